import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Alert } from '../domain/alert.js';
import { haltAlert, resumable, resumeAlert } from '../publish/halt.js';
import { actorOf, field, redirectWithNotice, sendPage, type ConsoleDeps } from './deps.js';
import { parseDeliveryChannel } from '../delivery/delivery-channel.js';
import { channelLabel } from './alert-view.js';
import { fanOuts, goingOut } from './fan-outs.js';
import { haltedByChannel, waitingByChannel } from './halt-view.js';

type IdParams = { Params: { id: string } };

// "Stop sending" and "Resume sending" on the alert page: each a confirmation page that says what
// will happen, in numbers, and a form that needs it (confirm=yes). Publisher only. The work is
// haltAlert and resumeAlert, the same as the CLI and the API; they write the audit entries.

/** The halt reason is kept with every skipped delivery and in the audit log. */
const haltReason = z
  .string()
  .trim()
  .min(1, 'say why you are stopping it; it is recorded with every skipped delivery')
  .max(2000, 'at most 2,000 characters')
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must be one line without control characters');

export async function haltRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { ctx } = deps;

  async function haltPage(request: FastifyRequest, reply: FastifyReply, alert: Alert, extra: { reason?: string; reasonError?: string; status?: number } = {}) {
    const [counts, fans] = await Promise.all([ctx.ledger.counts(alert.id), fanOuts(ctx, alert.id)]);
    const channels = waitingByChannel(counts).map((c) => ({ ...c, label: channelLabel(deps, c.channel) }));
    return sendPage(
      deps,
      request,
      reply,
      'halt-confirm',
      `Stop sending: ${alert.title}`,
      {
        alert,
        goingOut: goingOut(alert.status, fans, counts),
        halt: fans.halt,
        channels,
        waiting: channels.reduce((n, c) => n + c.waiting, 0),
        sending: channels.reduce((n, c) => n + c.sending, 0),
        // Recipients the fan-out has not reached yet are recorded as skipped too (src/publish/halt.ts).
        fanningOut: fans.publication.state === 'fanning-out' || fans.followUps.some((f) => f.state === 'fanning-out'),
        reason: extra.reason ?? '',
        reasonError: extra.reasonError,
      },
      { nav: 'alerts', status: extra.status },
    );
  }

  app.get<IdParams>('/console/alerts/:id/halt', { config: { role: 'publisher' } }, async (request, reply) => {
    return haltPage(request, reply, await ctx.alerts.require(request.params.id));
  });

  app.post<IdParams>('/console/alerts/:id/halt', { config: { role: 'publisher' } }, async (request, reply) => {
    const alert = await ctx.alerts.require(request.params.id);
    // Halting needs the confirmation page's button, not just any post.
    if (field(request.body, 'confirm') !== 'yes') return reply.redirect(`/console/alerts/${alert.id}/halt`, 303);
    const raw = field(request.body, 'reason');
    const reason = haltReason.safeParse(raw);
    if (!reason.success) return haltPage(request, reply, alert, { reason: raw.slice(0, 2000), reasonError: reason.error.issues[0].message, status: 400 });
    const who = actorOf(request);
    const result = await haltAlert(ctx, alert.id, who.actor, reason.data, who.role);
    if (result.outcome === 'already') return redirectWithNotice(reply, `/console/alerts/${alert.id}`, 'already-halted');
    const skipped = Object.values(result.skipped).reduce((a, b) => a + b, 0);
    return redirectWithNotice(reply, `/console/alerts/${alert.id}`, 'halted', skipped);
  });

  async function resumePage(request: FastifyRequest, reply: FastifyReply, alert: Alert) {
    const [fans, latest] = await Promise.all([fanOuts(ctx, alert.id), ctx.versions.latest(alert.id)]);
    // What resumeAlert would accept: the halt covers the latest version (a halted correction too).
    const halt = resumable(fans.halt, latest?.version ?? 1) ? fans.halt : null;
    // resumeAlert queues again the latest version's skipped deliveries only (earlier ones it replaced).
    const channels = halt
      ? (await haltedByChannel(ctx, alert.id, halt))
          .filter((c) => parseDeliveryChannel(c.channel).version === (latest?.version ?? 1))
          .map((c) => ({ ...c, label: channelLabel(deps, c.channel) }))
      : [];
    return sendPage(
      deps,
      request,
      reply,
      'resume-confirm',
      `Resume sending: ${alert.title}`,
      {
        alert,
        halt,
        channels,
        skipped: channels.reduce((n, c) => n + c.skipped, 0),
        fanningOut: fans.publication.state === 'fanning-out' || fans.followUps.some((f) => f.state === 'fanning-out'),
      },
      { nav: 'alerts' },
    );
  }

  app.get<IdParams>('/console/alerts/:id/resume', { config: { role: 'publisher' } }, async (request, reply) => {
    return resumePage(request, reply, await ctx.alerts.require(request.params.id));
  });

  app.post<IdParams>('/console/alerts/:id/resume', { config: { role: 'publisher' } }, async (request, reply) => {
    const alert = await ctx.alerts.require(request.params.id);
    if (field(request.body, 'confirm') !== 'yes') return reply.redirect(`/console/alerts/${alert.id}/resume`, 303);
    // resumeAlert refuses a halt that a correction or retraction superseded (it stays on the
    // record; resuming it would send the superseded text to those it skipped).
    const who = actorOf(request);
    const result = await resumeAlert(ctx, alert.id, who.actor, who.role);
    const requeued = Object.values(result.requeued).reduce((a, b) => a + b, 0);
    return redirectWithNotice(reply, `/console/alerts/${alert.id}`, 'resumed', requeued);
  });
}
