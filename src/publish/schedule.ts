import { UnrecoverableError } from 'bullmq';
import type { Context } from '../context.js';
import type { FastifyError } from 'fastify';
import { errors } from '../errors.js';
import type { AlertStatus } from '../domain/alert.js';
import { jobIds, QUEUE, type ScheduledPublishJob } from '../queue/jobs.js';
import type { Processor } from '../queue/attempt.js';
import { AuditLog } from '../store/audit.js';
import { publishAlert } from './publish.js';
import { assertMayPublish, publishableStatuses, type WorkflowAlert } from './approval.js';

// Publishing at a given time is a delayed BullMQ job on its own queue. Its id is deterministic for
// (alert, time) and is kept on the alert, so cancelling removes exactly that job; a job that runs
// anyway (it was already active) finds the alert no longer scheduled and does nothing.

export const SCHEDULE_QUEUE = QUEUE.schedule;

const MAX_AHEAD_MS = 366 * 24 * 3600 * 1000;

/** draft/approved -> scheduled, with a delayed job that publishes at `at`. */
export async function schedulePublish(ctx: Context, idOrSlug: string, at: Date, actor: string, now = Date.now()): Promise<WorkflowAlert> {
  if (Number.isNaN(at.getTime())) throw errors.SCHEDULE_INVALID('publishAt: not a date and time');
  if (at.getTime() <= now) throw errors.SCHEDULE_INVALID(`publishAt: ${at.toISOString()} is in the past; choose a later time or publish now`);
  if (at.getTime() - now > MAX_AHEAD_MS) throw errors.SCHEDULE_INVALID('publishAt: must be within a year');
  const alert = (await ctx.alerts.require(idOrSlug)) as WorkflowAlert;
  const from: AlertStatus[] = publishableStatuses(ctx.config).filter((s) => s !== 'scheduled');
  if (!from.includes(alert.status)) {
    if (alert.status === 'draft') assertMayPublish(ctx.config, alert, actor);
    throw errors.ALERT_NOT_PUBLISHABLE(alert.slug, alert.status);
  }
  assertMayPublish(ctx.config, alert, actor);
  const jobId = jobIds.scheduledPublish(alert.id, at);
  const fields = { scheduledFor: at.toISOString(), scheduledBy: actor, scheduleJob: jobId, scheduledFrom: alert.status };
  const { changed, previous } = await ctx.alerts.transition(alert.id, from, 'scheduled', fields);
  if (!changed) throw errors.ALERT_NOT_PUBLISHABLE(alert.slug, previous ?? 'missing');
  try {
    const job: ScheduledPublishJob = { kind: 'scheduled-publish', alertId: alert.id };
    await ctx.queues.add(job, jobId, { level: alert.level, delayMs: at.getTime() - Date.now() });
  } catch (err) {
    // Without its job the schedule would silently never fire: put the alert back as it was.
    await ctx.alerts.transition(alert.id, ['scheduled'], alert.status as 'draft' | 'approved', { scheduleJob: '', scheduledFor: '' });
    throw err;
  }
  return { ...alert, status: 'scheduled', ...fields };
}

/** scheduled -> back to draft or approved; the delayed job is removed. */
export async function cancelSchedule(ctx: Context, idOrSlug: string): Promise<WorkflowAlert> {
  const alert = (await ctx.alerts.require(idOrSlug)) as WorkflowAlert;
  if (alert.status !== 'scheduled') throw errors.ALERT_NOT_SCHEDULED(alert.slug, alert.status);
  const back = alert.scheduledFrom === 'approved' ? 'approved' : 'draft';
  const { changed, previous } = await ctx.alerts.transition(alert.id, ['scheduled'], back, { scheduledFor: '', scheduleJob: '' });
  if (!changed) throw errors.ALERT_NOT_SCHEDULED(alert.slug, previous ?? 'missing');
  if (alert.scheduleJob) {
    const job = await ctx.queues.get(SCHEDULE_QUEUE).getJob(alert.scheduleJob);
    // An active job cannot be removed; it will find the alert no longer scheduled.
    await job?.remove().catch(() => undefined);
  }
  return { ...alert, status: back, scheduledFor: '', scheduleJob: '' };
}

/** The worker side: publish if this job is still the alert's schedule. */
export function createScheduleProcessor(ctx: Context): Processor<'scheduled-publish'> {
  const audit = new AuditLog(ctx.redis, ctx.keys);
  return async ({ job }): Promise<'published' | 'cancelled'> => {
    const alert = (await ctx.alerts.get(job.data.alertId)) as WorkflowAlert | null;
    if (!alert || alert.status !== 'scheduled' || alert.scheduleJob !== job.id) return 'cancelled';
    const actor = alert.scheduledBy || 'schedule';
    try {
      await publishAlert(ctx, alert.id, actor, { from: ['scheduled'] });
    } catch (err) {
      const code = (err as FastifyError).code;
      if (code === 'TOCSIN_ERR_ALERT_NOT_PUBLISHABLE') return 'cancelled';
      if (code === 'TOCSIN_ERR_APPROVAL_REQUIRED' || code === 'TOCSIN_ERR_SAME_PERSON') {
        // The rules changed since it was scheduled: do not retry, and say so on the alert page.
        await ctx.alerts.transition(alert.id, ['scheduled'], alert.scheduledFrom === 'approved' ? 'approved' : 'draft', { scheduleJob: '', scheduledFor: '' });
        await audit.record(alert.id, { actor, action: 'schedule-cancelled', detail: `not published at ${alert.scheduledFor}: ${(err as Error).message}` });
        throw new UnrecoverableError((err as Error).message);
      }
      throw err;
    }
    await audit.record(alert.id, { actor, action: 'scheduled-publish', detail: `published as scheduled for ${alert.scheduledFor}` });
    return 'published';
  };
}
