import type { Context } from '../context.js';
import { queueAgain } from './requeue.js';

export interface RetryResult {
  /** Targets moved back to queued, per channel. */
  requeued: Record<string, number>;
  jobs: number;
}

/**
 * Re-queues only the failed deliveries of an alert (one channel or all). Sent, unknown and
 * skipped deliveries are never touched; the ledger moves failed -> queued atomically, so two
 * staff pressing "retry" at once requeue each target once.
 */
export async function retryFailed(ctx: Context, alertIdOrSlug: string, channel?: string): Promise<RetryResult> {
  const alert = await ctx.alerts.require(alertIdOrSlug);
  const channels = channel ? [channel] : await ctx.ledger.channels(alert.id);
  const result: RetryResult = { requeued: {}, jobs: 0 };
  const round = Date.now().toString(36);
  for (const ch of channels) {
    const failed = await ctx.ledger.targetsInState(alert.id, ch, 'failed');
    const moved = await ctx.ledger.reopen(alert.id, ch, failed, { from: 'failed', to: 'queued' });
    if (moved.length === 0) continue;
    result.requeued[ch] = moved.length;
    result.jobs += await queueAgain(ctx, alert.id, ch, moved, round);
  }
  if (result.jobs > 0) {
    await ctx.publications.reopenIfNeeded(alert.id);
    await ctx.activity.append({ type: 'retry', alert: alert.id, requeued: result.requeued });
  }
  return result;
}

/**
 * Staff decision on an `unknown` delivery: `sent` when they checked the provider and found it,
 * `resend` to send it again (accepting the risk of a duplicate).
 */
export async function resolveUnknown(ctx: Context, alertId: string, channel: string, targets: string[], decision: 'sent' | 'resend'): Promise<number> {
  const moved =
    decision === 'sent'
      ? await ctx.ledger.reopen(alertId, channel, targets, { from: 'unknown', to: 'sent' }, 'confirmed by hand')
      : await ctx.ledger.reopen(alertId, channel, targets, { from: 'unknown', to: 'queued' });
  if (decision === 'resend' && moved.length > 0) {
    await queueAgain(ctx, alertId, channel, moved, Date.now().toString(36));
    await ctx.publications.reopenIfNeeded(alertId);
  }
  if (decision === 'sent') await ctx.publications.finishIfComplete(alertId);
  return moved.length;
}
