import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { approveAlert, publishBlocker, type WorkflowAlert } from '../publish/approval.js';
import { publishAlert } from '../publish/publish.js';
import { SCHEDULE_QUEUE, cancelSchedule, schedulePublish } from '../publish/schedule.js';
import { countryName } from '../domain/countries.js';
import { errors } from '../errors.js';
import { audienceOf } from './audience.js';
import { actorOf, field, redirectWithNotice, sendPage, type ConsoleDeps } from './deps.js';
import { formatDate } from './view.js';

type IdParams = { Params: { id: string } };

/** `2030-01-02T09:30` from a datetime-local control is read as UTC (the label says so). */
export function parsePublishAt(value: string): Date {
  const v = value.trim();
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/.test(v)) return new Date(`${v.length === 16 ? `${v}:00` : v}Z`);
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(v)) return new Date(v);
  throw errors.SCHEDULE_INVALID(`publishAt: "${v.slice(0, 40)}" is not a date and time like 2030-01-02T09:30`);
}

export async function workflowRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { ctx } = deps;

  async function confirmPage(
    request: FastifyRequest,
    reply: FastifyReply,
    alert: WorkflowAlert,
    extra: { scheduleError?: string; status?: number; publishAt?: string } = {},
  ) {
    const actor = actorOf(request).actor;
    const audience = await audienceOf(ctx, alert, deps.accounts);
    return sendPage(
      deps,
      request,
      reply,
      'publish-confirm',
      `Publish: ${alert.title}`,
      {
        alert,
        audience,
        countries: alert.countries.map((c) => countryName(c)).join(', '),
        blocker: publishBlocker(ctx.config, alert, actor),
        scheduledFor: alert.status === 'scheduled' ? formatDate(alert.scheduledFor) : '',
        minPublishAt: new Date(Date.now() + 60_000).toISOString().slice(0, 16),
        publishAt: extra.publishAt ?? '',
        scheduleError: extra.scheduleError,
      },
      { nav: 'alerts', status: extra.status },
    );
  }

  app.post<IdParams>('/console/alerts/:id/approve', { config: { role: 'publisher' } }, async (request, reply) => {
    const who = actorOf(request);
    const alert = await approveAlert(ctx, request.params.id, who.actor);
    await deps.audit.record(alert.id, { ...who, action: 'approved', detail: alert.createdBy ? `written by ${alert.createdBy}` : undefined });
    return redirectWithNotice(reply, `/console/alerts/${alert.id}`, 'approved');
  });

  // The confirmation step: says how many subscribers and accounts will receive it.
  app.get<IdParams>('/console/alerts/:id/publish', { config: { role: 'publisher' } }, async (request, reply) => {
    const alert = (await ctx.alerts.require(request.params.id)) as WorkflowAlert;
    return confirmPage(request, reply, alert);
  });

  app.post<IdParams>('/console/alerts/:id/publish', { config: { role: 'publisher' } }, async (request, reply) => {
    const alert = (await ctx.alerts.require(request.params.id)) as WorkflowAlert;
    // Publishing needs the confirmation page's button, not just any post.
    if (field(request.body, 'confirm') !== 'yes') return reply.redirect(`/console/alerts/${alert.id}/publish`, 303);
    const who = actorOf(request);
    const result = await publishAlert(ctx, alert.id, who.actor);
    if (result.outcome === 'already') return redirectWithNotice(reply, `/console/alerts/${alert.id}`, 'already');
    if (alert.status === 'scheduled' && alert.scheduleJob) {
      // Published by hand before its time: the delayed job is no longer needed.
      await (await ctx.queues.get(SCHEDULE_QUEUE).getJob(alert.scheduleJob))?.remove().catch(() => undefined);
    }
    const subscribers = field(request.body, 'subscribers');
    const accounts = field(request.body, 'accounts');
    const counted =
      /^\d{1,9}$/.test(subscribers) && /^\d{1,4}$/.test(accounts)
        ? ` (confirmed for ${subscribers} ${subscribers === '1' ? 'subscriber' : 'subscribers'} and ${accounts} ${accounts === '1' ? 'account' : 'accounts'})`
        : '';
    await deps.audit.record(alert.id, { ...who, action: 'publish-requested', detail: `published now${counted}` });
    return redirectWithNotice(reply, `/console/alerts/${alert.id}`, 'publishing');
  });

  app.post<IdParams>('/console/alerts/:id/schedule', { config: { role: 'publisher' } }, async (request, reply) => {
    const alert = (await ctx.alerts.require(request.params.id)) as WorkflowAlert;
    const who = actorOf(request);
    const raw = field(request.body, 'publishAt');
    let scheduled: WorkflowAlert;
    try {
      scheduled = await schedulePublish(ctx, alert.id, parsePublishAt(raw), who.actor);
    } catch (err) {
      if ((err as FastifyError).code !== 'TOCSIN_ERR_SCHEDULE_INVALID') throw err;
      return confirmPage(request, reply, alert, { scheduleError: (err as Error).message, status: 400, publishAt: raw.slice(0, 20) });
    }
    await deps.audit.record(alert.id, { ...who, action: 'scheduled', detail: `to publish at ${formatDate(scheduled.scheduledFor)}` });
    return redirectWithNotice(reply, `/console/alerts/${alert.id}`, 'scheduled');
  });

  app.post<IdParams>('/console/alerts/:id/schedule/cancel', { config: { role: 'publisher' } }, async (request, reply) => {
    const alert = (await ctx.alerts.require(request.params.id)) as WorkflowAlert;
    await cancelSchedule(ctx, alert.id);
    await deps.audit.record(alert.id, { ...actorOf(request), action: 'schedule-cancelled', detail: `was to publish at ${formatDate(alert.scheduledFor)}` });
    return redirectWithNotice(reply, `/console/alerts/${alert.id}`, 'unscheduled');
  });
}
