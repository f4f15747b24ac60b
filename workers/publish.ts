import type { Context } from '../src/context.js';
import type { Messenger } from '../src/channels/messenger.js';
import { jobIds } from '../src/queue/jobs.js';
import { EMAIL_CHANNEL, storeRenderedOnce } from '../src/publish/rendered.js';
import { ACCOUNT_TARGET } from './account.js';
import type { Processor } from '../src/queue/attempt.js';
import { ensureOriginalVersion } from '../src/publish/versions.js';
import { withLink } from '../src/domain/alert-link.js';
import { batchSizeFor, paceFanOut } from './pace.js';
import { skipHaltedPage } from '../src/publish/halt.js';

/**
 * Renders every channel's message once, then fans out: one job per account on that account's
 * queue, and email batch jobs over matching confirmed subscribers in id order. Re-running it adds
 * nothing, even while an earlier run of the same job is still going (its lock lapsed): rendered
 * messages are stored once, job ids are deterministic, the ledger only adds new targets, and the
 * cursor only moves by compare-and-set, so each batch is counted once whoever queued it.
 */
export function createPublishProcessor(ctx: Context, accounts: Map<string, Messenger>): Processor<'publish'> {
  return async (attempt) => {
    const { job, lease } = attempt;
    const { alertId } = job.data;
    const alert = await ctx.alerts.get(alertId);
    // Publishing, or halted while this fan-out was under way (it then records the rest as
    // skipped); anything else is not ours to fan out.
    if (!alert || (alert.status !== 'publishing' && !(await ctx.halts.stopping(alertId, 1)))) return { batches: 0, recipients: 0 };
    // Normally appended when publishing was requested; this recovers a crash in between.
    await ensureOriginalVersion(ctx, alert);
    await ctx.publications.start(alertId);
    // Channels without configuration of their own read the link from the alert (the page is the link).
    const linked = withLink(alert, ctx.config);

    for (const [channel, messenger] of accounts) {
      await storeRenderedOnce(ctx, alert, channel, () => messenger.render(linked));
      await ctx.ledger.enqueue(alertId, channel, [ACCOUNT_TARGET]);
      await ctx.queues.add({ kind: 'account-post', alertId, channel }, jobIds.accountPost(alertId), { level: alert.level });
    }

    let pub = await ctx.publications.get(alertId);
    if (ctx.config.email.enabled && pub.state !== 'fanned-out') {
      await storeRenderedOnce(ctx, alert, EMAIL_CHANNEL);
      const size = batchSizeFor(ctx.config, alert.level);
      let cursor = pub.cursor;
      for (;;) {
        lease.assertValid();
        // Halted: the rest of the list goes into the ledger as skipped, unpaced and with no jobs.
        const halt = await ctx.halts.stopping(alertId, 1);
        // Far enough ahead of the senders: look again shortly (before queuing, not after).
        if (!halt) await paceFanOut(ctx, attempt, alertId, EMAIL_CHANNEL, size);
        const page = await ctx.subscribers.matching(alert, cursor, size);
        if (page.ids.length > 0 && halt) await skipHaltedPage(ctx, alertId, EMAIL_CHANNEL, page.ids.map(String), halt);
        else if (page.ids.length > 0) {
          // Ledger first: the alert cannot be counted finished while this batch is outstanding.
          await ctx.ledger.enqueue(alertId, EMAIL_CHANNEL, page.ids.map(String));
          await ctx.queues.add({ kind: 'email-batch', alertId, subscriberIds: page.ids }, jobIds.emailBatch(alertId, page.ids[0]), { level: alert.level });
        }
        // Compare-and-set: if another run of this job got further meanwhile, follow it from its
        // cursor; the batch it queued is the same job id, and is counted once.
        if (!(await ctx.publications.advance(alertId, cursor, page.lastExamined, page.ids.length))) {
          cursor = (await ctx.publications.get(alertId)).cursor;
          continue;
        }
        cursor = page.lastExamined;
        if (page.done) break;
      }
    }
    await ctx.publications.markFannedOut(alertId);
    await ctx.publications.finishIfComplete(alertId);
    pub = await ctx.publications.get(alertId);
    ctx.log.info({ alertId, batches: pub.batches, recipients: pub.recipients, accounts: accounts.size }, 'fan-out complete');
    return { batches: pub.batches, recipients: pub.recipients };
  };
}
