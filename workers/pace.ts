import { DelayedError } from 'bullmq';
import type { Context } from '../src/context.js';
import type { Level } from '../src/domain/alert.js';
import type { Attempt } from '../src/queue/attempt.js';
import type { JobKind } from '../src/queue/jobs.js';

/** An emergency's batches are smaller, so its first mails leave sooner and every process gets some. */
export function batchSizeFor(config: Context['config'], level: Level | null | undefined): number {
  return level === 'emergency' ? config.email.emergencyBatchSize : config.email.batchSize;
}

/** How long a fan-out that is far enough ahead waits before it looks again. */
const RECHECK_MS = 250;

/**
 * Keeps a fan-out at most `email.fanOutAhead` recipients (at least one batch) ahead of the
 * senders: queued or being sent, by the ledger's counts. When it is that far
 * ahead, the fan-out job goes back to the delayed set (not an attempt; its cursor is in Redis)
 * and runs again shortly from where it was. It does not sleep in place: that would hold a publish
 * slot that an emergency's fan-out may need.
 */
export async function paceFanOut<K extends JobKind>(
  ctx: Context,
  attempt: Attempt<K>,
  alertId: string,
  ledgerChannel: string,
  batchSize: number,
): Promise<void> {
  const pending = await ctx.ledger.pending(alertId, ledgerChannel);
  if (pending < Math.max(ctx.config.email.fanOutAhead, batchSize)) return;
  await attempt.job.moveToDelayed(Date.now() + RECHECK_MS, attempt.token);
  throw new DelayedError(`fan-out ${pending} deliveries ahead; again in ${RECHECK_MS} ms`);
}
