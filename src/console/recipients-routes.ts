import type { FastifyInstance } from 'fastify';
import { emailSchema, maskEmail, normaliseEmail } from '../domain/subscriber.js';
import { EMAIL_CHANNEL } from '../publish/rendered.js';
import { field, sendPage, type ConsoleDeps } from './deps.js';
import { maskAddresses } from './failures.js';

const HISTORY_ALERTS = 200;

/**
 * Recipient look-up by address. The address travels in a POST body, never a URL (URLs end up in
 * logs), and the page only ever shows it masked.
 */
export async function recipientsRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { ctx } = deps;

  app.get('/console/recipients', { config: { role: 'viewer' } }, async (request, reply) =>
    sendPage(deps, request, reply, 'recipients', 'Recipient look-up', {}, { nav: 'recipients' }),
  );

  app.post('/console/recipients', { config: { role: 'viewer' } }, async (request, reply) => {
    const parsed = emailSchema.safeParse(field(request.body, 'email'));
    if (!parsed.success) {
      return sendPage(
        deps,
        request,
        reply,
        'recipients',
        'Recipient look-up',
        { error: `Email address: ${parsed.error.issues[0].message}` },
        { nav: 'recipients', status: 400 },
      );
    }
    const sub = await ctx.subscribers.getByEmail(parsed.data);
    const masked = maskEmail(sub ? sub.email : normaliseEmail(parsed.data));
    if (!sub) return sendPage(deps, request, reply, 'recipients', 'Recipient look-up', { searched: true, masked }, { nav: 'recipients' });
    const alerts = await ctx.alerts.list({ limit: HISTORY_ALERTS });
    const entries = await Promise.all(alerts.map((a) => ctx.ledger.get(a.id, EMAIL_CHANNEL, String(sub.id))));
    const history = alerts
      .map((a, i) => ({ alert: a, entry: entries[i] }))
      .filter((h) => h.entry)
      .map((h) => ({
        id: h.alert.id,
        title: h.alert.title,
        state: h.entry!.state,
        attempts: h.entry!.attempts,
        updatedAt: h.entry!.updatedAt,
        error: maskAddresses(h.entry!.error ?? ''),
        retryAt: h.entry!.retryAt,
      }));
    return sendPage(
      deps,
      request,
      reply,
      'recipients',
      'Recipient look-up',
      {
        searched: true,
        masked,
        subscriber: {
          id: sub.id,
          status: sub.status,
          countries: sub.countries === '*' ? 'All countries' : sub.countries.join(', '),
          minLevel: sub.minLevel,
          createdAt: sub.createdAt,
          confirmedAt: sub.confirmedAt,
        },
        history,
        historyLimit: HISTORY_ALERTS,
      },
      { nav: 'recipients' },
    );
  });
}
