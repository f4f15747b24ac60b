import type { Context } from '../context.js';
import type { Alert, AlertStatus } from '../domain/alert.js';
import { errors } from '../errors.js';
import { jobIds } from '../queue/jobs.js';
import { assertMayPublish, publishableStatuses } from './approval.js';
import { ensureOriginalVersion } from './versions.js';

export type PublishResult = { outcome: 'queued'; alert: Alert } | { outcome: 'already'; alert: Alert; message: string };

const PUBLISHABLE: readonly AlertStatus[] = ['draft', 'approved', 'scheduled'];
const IN_PROGRESS: readonly AlertStatus[] = ['publishing', 'published', 'corrected'];

/**
 * Moves the alert to `publishing` and queues its one publish job. Publishing an alert that is
 * already publishing or published changes nothing and says so.
 */
export async function publishAlert(ctx: Context, idOrSlug: string, actor = 'cli', options: { from?: readonly AlertStatus[] } = {}): Promise<PublishResult> {
  const alert = await ctx.alerts.require(idOrSlug);
  // approvals: 2 — only approved alerts, and never by their author (src/publish/approval.ts).
  assertMayPublish(ctx.config, alert, actor);
  const from = (options.from ?? PUBLISHABLE).filter((s) => publishableStatuses(ctx.config).includes(s));
  const { changed, previous } = await ctx.alerts.transition(alert.id, from, 'publishing', { publishRequestedBy: actor });
  if (!changed) {
    if (previous && IN_PROGRESS.includes(previous)) {
      // Re-adding the deterministic job id is a no-op if it exists, and recovers a lost enqueue.
      if (previous === 'publishing') {
        await ensureOriginalVersion(ctx, alert, actor);
        await ctx.queues.add({ kind: 'publish', alertId: alert.id }, jobIds.publish(alert.id), { level: alert.level });
      }
      return { outcome: 'already', alert: { ...alert, status: previous }, message: `Alert ${alert.slug} is already ${previous}; nothing was sent again.` };
    }
    throw errors.ALERT_NOT_PUBLISHABLE(alert.slug, previous ?? 'missing');
  }
  // The public page (version 1) exists before anything that links to it is sent.
  await ensureOriginalVersion(ctx, alert, actor);
  await ctx.queues.add({ kind: 'publish', alertId: alert.id }, jobIds.publish(alert.id), { level: alert.level });
  await ctx.activity.append({ type: 'publish-requested', alert: alert.id, actor });
  return { outcome: 'queued', alert: { ...alert, status: 'publishing' } };
}
