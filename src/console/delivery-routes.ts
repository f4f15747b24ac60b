import type { FastifyInstance } from 'fastify';
import { retryFailed, resolveUnknown } from '../publish/retry.js';
import { errors } from '../errors.js';
import { actorOf, field, fields, redirectWithNotice, type ConsoleDeps } from './deps.js';

type IdParams = { Params: { id: string } };

/** Acting on deliveries: retry what failed, settle what is unknown. Both send to the public: publisher. */
export async function deliveryRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { ctx } = deps;

  app.post<IdParams>('/console/alerts/:id/retry', { config: { role: 'publisher' } }, async (request, reply) => {
    const alert = await ctx.alerts.require(request.params.id);
    const channel = field(request.body, 'channel');
    if (channel && !(await ctx.ledger.channels(alert.id)).includes(channel)) throw errors.CHANNEL_UNKNOWN(channel);
    const result = await retryFailed(ctx, alert.id, channel || undefined);
    const n = Object.values(result.requeued).reduce((a, b) => a + b, 0);
    await deps.audit.record(alert.id, {
      ...actorOf(request),
      action: 'retried',
      detail: `${channel ? `channel ${channel}` : 'all channels'}: ${n} failed ${n === 1 ? 'delivery' : 'deliveries'} queued again${
        n
          ? ` (${Object.entries(result.requeued)
              .map(([c, k]) => `${c} ${k}`)
              .join(', ')})`
          : ''
      }`,
    });
    return redirectWithNotice(reply, `/console/alerts/${alert.id}`, 'retried', n);
  });

  app.post<IdParams>('/console/alerts/:id/resolve', { config: { role: 'publisher' } }, async (request, reply) => {
    const alert = await ctx.alerts.require(request.params.id);
    const channel = field(request.body, 'channel');
    const decision = field(request.body, 'decision');
    if (decision !== 'sent' && decision !== 'resend') throw errors.BODY_INVALID('decision: must be "sent" (found at the provider) or "resend"');
    if (!(await ctx.ledger.channels(alert.id)).includes(channel)) throw errors.CHANNEL_UNKNOWN(channel || '(none)');
    const raw = fields(request.body).target;
    const targets = (Array.isArray(raw) ? raw : raw ? [raw] : []).filter((t) => /^(?:\d{1,12}|post)$/.test(t));
    if (targets.length === 0) throw errors.BODY_INVALID('target: name at least one delivery to resolve');
    const n = await resolveUnknown(ctx, alert.id, channel, targets, decision);
    await deps.audit.record(alert.id, {
      ...actorOf(request),
      action: 'resolved-unknown',
      detail: `${channel}: ${n} unknown ${n === 1 ? 'delivery' : 'deliveries'} ${decision === 'sent' ? 'marked as sent (confirmed at the provider)' : 'sent again'}`,
    });
    return redirectWithNotice(reply, `/console/alerts/${alert.id}`, 'resolved', n);
  });
}
