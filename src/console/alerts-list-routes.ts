import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ALERT_STATUSES, LEVELS, type Alert } from '../domain/alert.js';
import { countryName, isCountryCode } from '../domain/countries.js';
import { errors, formatZodIssues } from '../errors.js';
import { sendPage, type ConsoleDeps } from './deps.js';

const PAGE_SIZE = 50;
const SCAN_LIMIT = 2000;

const filterSchema = z.object({
  status: z.union([z.enum(ALERT_STATUSES), z.literal('')]).default(''),
  level: z.union([z.enum(LEVELS), z.literal('none'), z.literal('')]).default(''),
  country: z
    .string()
    .transform((s) => s.trim().toUpperCase())
    .refine((s) => s === '' || isCountryCode(s), 'must be an ISO 3166-1 alpha-2 code such as KZ')
    .default(''),
  before: z.union([z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'must be an alert id'), z.literal('')]).default(''),
  notice: z.string().optional(),
  n: z.string().optional(),
});

export async function alertsListRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { ctx } = deps;

  app.get('/console/alerts', { config: { role: 'viewer' } }, async (request, reply) => {
    const parsed = filterSchema.safeParse(request.query);
    if (!parsed.success) throw errors.BODY_INVALID(formatZodIssues(parsed.error.issues));
    const f = parsed.data;
    const keep = (a: Alert) =>
      (!f.status || a.status === f.status) &&
      (!f.level || (f.level === 'none' ? a.level === null : a.level === f.level)) &&
      (!f.country || a.countries.includes(f.country));

    // Newest first, scanning older pages until a page of matches (bounded, so a rare filter stays fast).
    const found: Alert[] = [];
    let before = f.before || undefined;
    let scanned = 0;
    let more = false;
    scan: for (;;) {
      const page = await ctx.alerts.list({ limit: 200, ...(before ? { before } : {}) });
      for (const a of page) {
        if (found.length === PAGE_SIZE || scanned === SCAN_LIMIT) {
          more = true;
          break scan;
        }
        before = a.id;
        scanned++;
        if (keep(a)) found.push(a);
      }
      if (page.length < 200) break;
    }

    const counts = await Promise.all(found.map((a) => ctx.ledger.counts(a.id)));
    const rows = found.map((a, i) => ({
      id: a.id,
      title: a.title,
      slug: a.slug,
      level: a.level,
      status: a.status,
      countries: a.countries.map((c) => ({ code: c, name: countryName(c) })),
      sent: counts[i].totals.sent,
      failed: counts[i].totals.failed,
      unknown: counts[i].totals.unknown,
      total: counts[i].totals.total,
      createdAt: a.createdAt,
    }));
    const query = (extra: Record<string, string>) =>
      new URLSearchParams({
        ...(f.status ? { status: f.status } : {}),
        ...(f.level ? { level: f.level } : {}),
        ...(f.country ? { country: f.country } : {}),
        ...extra,
      }).toString();
    return sendPage(
      deps,
      request,
      reply,
      'alerts',
      'Alerts',
      {
        rows,
        filtered: Boolean(f.status || f.level || f.country),
        statuses: ALERT_STATUSES.map((s) => ({ value: s, selected: f.status === s })),
        levels: [{ value: 'none', label: 'None (reports)' }, ...LEVELS.map((l) => ({ value: l, label: l[0].toUpperCase() + l.slice(1) }))].map((l) => ({
          ...l,
          selected: f.level === l.value,
        })),
        country: f.country,
        countryName: f.country ? countryName(f.country) : '',
        olderUrl: more && before ? `/console/alerts?${query({ before })}` : '',
      },
      { nav: 'alerts' },
    );
  });
}
