import type { Context } from '../context.js';
import { jobIds } from '../queue/jobs.js';
import { parseDeliveryChannel } from '../delivery/delivery-channel.js';
import { ACCOUNT_TARGET } from '../delivery/account-target.js';
import { EMAIL_CHANNEL } from './rendered.js';

/** Queues jobs for deliveries moved back to `queued`: batches of email, or the account's post. */
export async function queueAgain(ctx: Context, alertId: string, ledgerChannel: string, targets: string[], round: string): Promise<number> {
  const { channel, version } = parseDeliveryChannel(ledgerChannel);
  // Re-queued work keeps its alert's lane.
  const level = (await ctx.alerts.get(alertId))?.level;
  if (channel !== EMAIL_CHANNEL) {
    if (!targets.includes(ACCOUNT_TARGET)) return 0;
    await ctx.queues.add({ kind: 'account-post', alertId: alertId, channel, version }, jobIds.retry(jobIds.accountPost(alertId, version), round), { level });
    return 1;
  }
  const ids = targets.map(Number).sort((a, b) => a - b);
  const size = ctx.config.email.batchSize;
  let jobs = 0;
  for (let i = 0; i < ids.length; i += size) {
    const batch = ids.slice(i, i + size);
    await ctx.queues.add(
      { kind: 'email-batch', alertId: alertId, subscriberIds: batch, version },
      jobIds.retry(jobIds.emailBatch(alertId, batch[0], version), round),
      { level },
    );
    jobs++;
  }
  return jobs;
}
