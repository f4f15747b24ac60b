import type { FastifyInstance } from 'fastify';
import { emailSchema, maskEmail, normaliseEmail } from '../domain/subscriber.js';
import { EMAIL_CHANNEL } from '../publish/rendered.js';
import { field, sendPage, type ConsoleDeps } from './deps.js';
import { maskAddresses } from './failures.js';
import type { Alert } from '../domain/alert.js';
import { parseDeliveryChannel } from '../delivery/delivery-channel.js';
import { channelLabel } from './alert-view.js';
import { versionHeading, versionKind } from './fan-outs.js';
import { sortByVersion } from './halt-view.js';

const HISTORY_ALERTS = 200;

/**
 * Recipient look-up by address. The address travels in a POST body, never a URL (URLs end up in
 * logs), and the page only ever shows it masked.
 */
export async function recipientsRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { ctx } = deps;

  /**
   * One subscriber's deliveries of one alert: each version (original, correction, retraction) is
   * delivered on channels of its own ("email@v2"), so each has its own row, oldest first.
   */
  async function deliveriesTo(alert: Alert, target: string) {
    const channels = (await ctx.ledger.channels(alert.id)).filter((c) => parseDeliveryChannel(c).channel === EMAIL_CHANNEL).sort(sortByVersion);
    if (channels.length === 0) return [];
    const [entries, versionCount] = await Promise.all([
      Promise.all(channels.map((c) => ctx.ledger.get(alert.id, c, target))),
      channels.length > 1 ? ctx.versions.count(alert.id) : 1,
    ]);
    return channels.flatMap((channel, i) => {
      const entry = entries[i];
      if (!entry) return [];
      const { channel: base, version } = parseDeliveryChannel(channel);
      return [
        {
          id: alert.id,
          title: alert.title,
          version,
          versionLabel: versionHeading(version, versionKind(version, versionCount, alert.status)),
          channel: channelLabel(deps, base),
          state: entry.state,
          attempts: entry.attempts,
          updatedAt: entry.updatedAt,
          error: maskAddresses(entry.error ?? ''),
          retryAt: entry.retryAt,
        },
      ];
    });
  }

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
    const history = (await Promise.all(alerts.map((a) => deliveriesTo(a, String(sub.id))))).flat();
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
