import type { Context } from '../src/context.js';
import { batchSizeFor, paceFanOut } from './pace.js';
import { skipHaltedPage } from '../src/publish/halt.js';
import type { FollowUp, Messenger, PostedPart } from '../src/channels/messenger.js';
import type { Processor } from '../src/queue/attempt.js';
import { jobIds } from '../src/queue/jobs.js';
import { withLink } from '../src/domain/alert-link.js';
import { matchesPreferences } from '../src/domain/alert.js';
import { renderAlertEmail } from '../src/render/email.js';
import { EMAIL_CHANNEL } from '../src/publish/rendered.js';
import { deliveryChannel, deliveryId } from '../src/delivery/delivery-channel.js';
import { ACCOUNT_TARGET, deletionTarget } from '../src/delivery/account-target.js';
import { receivedVersions } from '../src/delivery/received.js';
import { ThreadParts } from '../src/store/thread-parts.js';
import type { FollowUpEmails } from '../src/channels/email/templates.js';
import type { AccountMessage } from './account.js';

/**
 * The fan-out of a correction or retraction (version 2, 3, ...), on the same rules as publishing:
 * every message rendered once, deterministic job ids, the ledger only adding targets, and the
 * cursor moving by compare-and-set. On each account the follow-up replies to the thread the
 * account last posted for this alert; an account that posted nothing gets the corrected alert
 * whole (a retraction: nothing). By email it goes to everyone who received an earlier version
 * (threaded to it) and, for a correction, to every subscriber the corrected alert is for.
 */
export function createFollowUpProcessor(ctx: Context, accounts: Map<string, Messenger>): Processor<'follow-up'> {
  const threads = new ThreadParts(ctx.redis, ctx.keys);

  /** The first part of the alert on this account, and the parts of the latest version it posted. */
  async function conversation(
    alertId: string,
    channel: string,
    version: number,
  ): Promise<{ root: PostedPart; latest: PostedPart[]; original: PostedPart[] } | null> {
    const original = (await threads.read(alertId, deliveryChannel(channel, 1))).posted;
    for (let v = version - 1; v >= 1; v--) {
      const latest = v === 1 ? original : (await threads.read(alertId, deliveryChannel(channel, v))).posted;
      if (latest.length) return { root: original[0] ?? latest[0], latest, original };
    }
    return null;
  }

  return async (attempt) => {
    const { job, lease } = attempt;
    const { alertId, version } = job.data;
    const [record, alert] = await Promise.all([ctx.versions.get(alertId, version), ctx.alerts.get(alertId)]);
    if (!record || !alert || record.kind === 'original') return { skipped: 'no such follow-up' };
    if (await ctx.halts.stopping(alertId, version)) return { skipped: 'halted' };
    const kind = record.kind;
    const notice: FollowUp = { kind, version, note: (kind === 'correction' ? record.note : record.reason) ?? '', at: record.at };
    const pubId = deliveryId(alertId, version);
    await ctx.publications.start(pubId);
    const linked = withLink(alert, ctx.config);

    for (const [channel, messenger] of accounts) {
      const ledgerChannel = deliveryChannel(channel, version);
      const thread = await conversation(alertId, channel, version);
      if (!thread && kind === 'retraction') continue;
      const deletions = kind === 'retraction' && job.data.deleteOriginals && messenger.deletePart ? (thread?.original ?? []) : [];
      const message: AccountMessage = thread
        ? {
            ...messenger.render(linked, { ...notice, ...(thread.root.url ? { originalUrl: thread.root.url } : {}) }),
            anchor: { root: thread.root, last: thread.latest[thread.latest.length - 1], parts: deletions },
          }
        : messenger.render(linked);
      await ctx.redis.set(ctx.keys.rendered(alertId, ledgerChannel), JSON.stringify(message), 'NX');
      await ctx.ledger.enqueue(alertId, ledgerChannel, [ACCOUNT_TARGET, ...deletions.map((_, i) => deletionTarget(i))]);
      await ctx.queues.add({ kind: 'account-post', alertId, channel, version }, jobIds.accountPost(alertId, version), { level: alert.level });
    }

    const pub = await ctx.publications.get(pubId);
    if (ctx.config.email.enabled && pub.state !== 'fanned-out') {
      const ledgerChannel = deliveryChannel(EMAIL_CHANNEL, version);
      // A paced fan-out runs again and again from its cursor: render once.
      if (!(await ctx.redis.exists(ctx.keys.rendered(alertId, ledgerChannel)))) {
        const emails: FollowUpEmails = {
          followUp: await renderAlertEmail(alert, ctx.config, { kind, at: record.at, note: notice.note }),
          ...(kind === 'correction' ? { fresh: await renderAlertEmail(alert, ctx.config) } : {}),
        };
        await ctx.redis.set(ctx.keys.rendered(alertId, ledgerChannel), JSON.stringify(emails), 'NX');
      }
      // Everyone who received an earlier version; for a correction, also everyone it is now for.
      const choose = async (rows: Array<{ id: number; status: string; prefs: Parameters<typeof matchesPreferences>[1] }>) => {
        const received = await receivedVersions(
          ctx,
          alertId,
          version,
          rows.map((r) => r.id),
        );
        return rows.map((r) => received.has(r.id) || (kind === 'correction' && r.status === 'confirmed' && matchesPreferences(alert, r.prefs)));
      };
      const size = batchSizeFor(ctx.config, alert.level);
      let cursor = pub.cursor;
      for (;;) {
        lease.assertValid();
        // Halted: the rest of the list goes into the ledger as skipped, as for the original.
        const halt = await ctx.halts.stopping(alertId, version);
        if (!halt) await paceFanOut(ctx, attempt, alertId, ledgerChannel, size);
        const page = await ctx.subscribers.select(cursor, size, choose);
        if (page.ids.length > 0 && halt) await skipHaltedPage(ctx, alertId, ledgerChannel, page.ids.map(String), halt);
        else if (page.ids.length > 0) {
          await ctx.ledger.enqueue(alertId, ledgerChannel, page.ids.map(String));
          await ctx.queues.add({ kind: 'email-batch', alertId, subscriberIds: page.ids, version }, jobIds.emailBatch(alertId, page.ids[0], version), {
            level: alert.level,
          });
        }
        if (!(await ctx.publications.advance(pubId, cursor, page.lastExamined, page.ids.length))) {
          cursor = (await ctx.publications.get(pubId)).cursor;
          continue;
        }
        cursor = page.lastExamined;
        if (page.done) break;
      }
    }
    await ctx.publications.markFannedOut(pubId);
    await ctx.publications.finishIfComplete(alertId);
    const done = await ctx.publications.get(pubId);
    ctx.log.info({ alertId, version, kind, batches: done.batches, recipients: done.recipients }, 'follow-up fan-out complete');
    return { batches: done.batches, recipients: done.recipients };
  };
}
