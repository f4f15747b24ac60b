import { parse } from 'csv-parse';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { Context } from '../context.js';
import { MIN_LEVELS, countriesPrefSchema, emailSchema, minLevelSchema, normaliseEmail, type MinLevel } from '../domain/subscriber.js';
import { formatZodIssues, errors } from '../errors.js';
import { isSuppressed } from './suppression.js';

// CSV columns: email, countries ("KZ;UA", "KZ UA", or "*"), level (all|watch|warning|emergency).
// Bad rows are reported with their line number; good rows are kept.

const rowSchema = z.object({
  email: emailSchema,
  countries: z
    .string()
    .optional()
    .transform((s) => {
      const t = (s ?? '').trim();
      return t === '' || t === '*' || t.toLowerCase() === 'all' ? '*' : t.split(/[\s;,|]+/).filter(Boolean);
    })
    .pipe(countriesPrefSchema),
  level: z
    .string()
    .optional()
    .transform((s) => (s ?? '').trim().toLowerCase() || 'all')
    .pipe(minLevelSchema),
});

export interface ImportReport {
  rows: number;
  added: number;
  updated: number;
  unchanged: number;
  /** Unsubscribed, bounced, complained or erased: never re-added by an import. */
  suppressed: number;
  /** Rows that repeated an address already seen in this file, merged into it. */
  merged: number;
  errors: Array<{ line: number; message: string }>;
}

type Row = { email: string; countries: string[] | '*'; level: MinLevel; line: number };

const rank = (level: MinLevel) => MIN_LEVELS.indexOf(level);
const mergeCountries = (a: string[] | '*', b: string[] | '*'): string[] | '*' => (a === '*' || b === '*' ? '*' : [...new Set([...a, ...b])].sort());

export const MAX_IMPORT_ERRORS_LISTED = 1000;

export async function importSubscribers(ctx: Context, input: Readable, consentBasis: string): Promise<ImportReport> {
  if (!/^[a-z0-9][a-z0-9 _.-]{1,60}$/i.test(consentBasis)) {
    throw errors.CSV_INVALID('consent basis: state how these people agreed (e.g. "event-signup-2024"), 2-60 letters, digits, spaces, "_", "." or "-"');
  }
  const report: ImportReport = { rows: 0, added: 0, updated: 0, unchanged: 0, suppressed: 0, merged: 0, errors: [] };
  const byEmail = new Map<string, Row>();
  const columns = (header: string[]) => {
    const names = header.map((h) => h.trim().toLowerCase());
    if (!names.includes('email')) throw errors.CSV_INVALID('line 1: the header must have an "email" column (and optionally "countries" and "level")');
    return names;
  };
  const parser = input.pipe(parse({ columns, bom: true, trim: true, skip_empty_lines: true, raw: true, relax_column_count: true, max_record_size: 10_000 }));
  // Line numbers are counted from each record's raw text: a quoted field may span lines, and
  // csv-parse's own counter counts CR LF inside quotes twice.
  let nextLine = 2;
  try {
    for await (const { record, raw } of parser as AsyncIterable<{ record: Record<string, string>; raw: string }>) {
      const line = nextLine;
      nextLine += Math.max(1, raw.split('\n').length - 1);
      report.rows++;
      const parsed = rowSchema.safeParse(record);
      if (!parsed.success) {
        if (report.errors.length < MAX_IMPORT_ERRORS_LISTED) report.errors.push({ line, message: formatZodIssues(parsed.error.issues) });
        continue;
      }
      const key = normaliseEmail(parsed.data.email);
      const seen = byEmail.get(key);
      if (seen) {
        report.merged++;
        seen.countries = mergeCountries(seen.countries, parsed.data.countries);
        if (rank(parsed.data.level) < rank(seen.level)) seen.level = parsed.data.level;
      } else byEmail.set(key, { ...parsed.data, line });
    }
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('TOCSIN_')) throw err;
    throw errors.CSV_INVALID((err as Error).message);
  }

  const now = Math.floor(Date.now() / 1000);
  for (const row of byEmail.values()) {
    if (await isSuppressed(ctx, row.email)) {
      report.suppressed++;
      continue;
    }
    const { id, created } = await ctx.subscribers.create({
      email: row.email,
      countries: row.countries,
      minLevel: row.level,
      status: 'confirmed',
      language: 'en',
      confirmedAt: now,
      consentSource: `import:${consentBasis}`,
    });
    if (created) {
      report.added++;
      continue;
    }
    const existing = await ctx.subscribers.get(id);
    if (!existing) continue;
    if (existing.status === 'unsubscribed' || existing.status === 'bounced' || existing.status === 'complained') {
      report.suppressed++;
      continue;
    }
    const countries = mergeCountries(existing.countries, row.countries);
    const minLevel = rank(row.level) < rank(existing.minLevel) ? row.level : existing.minLevel;
    const changed = JSON.stringify(countries) !== JSON.stringify(existing.countries) || minLevel !== existing.minLevel || existing.status !== 'confirmed';
    if (!changed) {
      report.unchanged++;
      continue;
    }
    await ctx.subscribers.update(id, {
      countries,
      minLevel,
      status: 'confirmed',
      ...(existing.status === 'pending' ? { confirmedAt: now, consentSource: `import:${consentBasis}` } : {}),
    });
    report.updated++;
  }
  return report;
}
