import { performance } from 'node:perf_hooks';
import { UnrecoverableError, Worker } from 'bullmq';
import type { Context } from '../src/context.js';
import type { Messenger, PostedPart, RenderedMessage } from '../src/channels/messenger.js';
import type { Outcome } from '../src/store/ledger.js';
import type { WorkerHooks } from '../src/metrics/worker-hooks.js';
import type { SendResult } from '../src/metrics/latency.js';
import { dispatchThread, type ThreadResult } from '../src/delivery/thread-dispatcher.js';
import { ThreadParts } from '../src/store/thread-parts.js';
import { loadRendered } from '../src/publish/rendered.js';
import { backoffDelay } from '../src/queue/queues.js';
import type { Processor } from '../src/queue/attempt.js';
import { ACCOUNT_TARGET } from '../src/delivery/account-target.js';
import { deliveryChannel } from '../src/delivery/delivery-channel.js';
import { deleteOriginals } from '../src/delivery/deletions.js';
import { haltNote } from '../src/store/halts.js';

export { ACCOUNT_TARGET } from '../src/delivery/account-target.js';

/** What the fan-out stores for one account and version: the message, and for a follow-up the thread it answers. */
export type AccountMessage = RenderedMessage & { anchor?: { root: PostedPart; last: PostedPart; parts: PostedPart[] } };

/**
 * Posts one alert (or one version's follow-up) to one account through the thread dispatcher,
 * then records the one outcome. Every part is recorded as it is accepted, so a retry or a
 * takeover after a crash resumes after the last recorded part and never posts one twice
 * (src/delivery/thread-dispatcher.ts). A follow-up replies to the original's last part.
 */
export function createAccountProcessor(ctx: Context, accounts: Map<string, Messenger>, hooks: WorkerHooks): Processor<'account-post'> {
  const threads = new ThreadParts(ctx.redis, ctx.keys);
  const retry = ctx.config.retry;

  return async ({ job, token, lease, worker }) => {
    const { alertId, channel } = job.data;
    const version = job.data.version ?? 1;
    const ledgerChannel = deliveryChannel(channel, version);
    const messenger = accounts.get(channel);
    if (!messenger) throw new UnrecoverableError(`account "${channel}" is not configured in this process`);
    const message = await loadRendered<AccountMessage>(ctx, alertId, ledgerChannel);
    if (!message) throw new Error(`alert ${alertId} has no rendered message for ${ledgerChannel}`);

    const [claim] = await ctx.ledger.claim(alertId, ledgerChannel, token, [ACCOUNT_TARGET]);
    if (!claim) {
      await deleteOriginals(ctx, messenger, alertId, ledgerChannel, token, message.anchor?.parts);
      await ctx.publications.finishIfComplete(alertId);
      return 'nothing to send';
    }
    const started = performance.now();
    const result = await dispatchThread(messenger, message, {
      record: await threads.read(alertId, ledgerChannel),
      begin: (index) => threads.begin(alertId, ledgerChannel, ACCOUNT_TARGET, token, index),
      save: (index, part) => threads.record(alertId, ledgerChannel, ACCOUNT_TARGET, token, index, part),
      clear: (index) => threads.clear(alertId, ledgerChannel, ACCOUNT_TARGET, token, index),
      lease,
      halted: async () => {
        const halt = await ctx.halts.stopping(alertId, version);
        return halt ? haltNote(halt) : undefined;
      },
      ...(message.anchor ? { anchor: { root: message.anchor.root, last: message.anchor.last } } : {}),
      idempotencyKey: (index) => `tocsin-${alertId}-${ledgerChannel}${index > 0 ? `-${index}` : ''}`,
    });
    hooks.observe(channel, (performance.now() - started) / 1000, latencyResult(result));
    if (result.kind === 'lost') throw new Error(`stopped: ${result.reason}`);

    const settle = async (outcome: Omit<Outcome, 'target'>) => {
      await ctx.ledger.settle(alertId, ledgerChannel, token, [{ target: ACCOUNT_TARGET, ...outcome }]);
      if (outcome.state === 'sent' || outcome.state === 'failed' || outcome.state === 'unknown')
        await ctx.health.recordDelivery(channel, outcome.state === 'sent', outcome.error);
      if (outcome.state !== 'retrying') await deleteOriginals(ctx, messenger, alertId, ledgerChannel, token, message.anchor?.parts);
      await ctx.publications.finishIfComplete(alertId);
      return outcome.state;
    };
    const first = result.posted[0] ? { providerId: result.posted[0].id, ...(result.posted[0].url ? { url: result.posted[0].url } : {}) } : {};
    switch (result.kind) {
      case 'sent':
        return settle({ state: 'sent', ...first, ...notesOf(result) });
      case 'failed':
      case 'unknown':
        return settle({ state: result.kind, error: result.reason, ...first });
      case 'halted':
        return settle({ state: 'skipped', error: result.reason, halted: true, ...first });
      case 'retry': {
        if (result.rateLimited) {
          const waitMs = Math.max(1000, (result.retryAt ?? Date.now() + 60_000) - Date.now());
          await settle({ state: 'retrying', error: `rate limited: ${result.reason}`, retryAt: Date.now() + waitMs });
          // Holds this account's whole queue until the provider's reset; no attempt is spent.
          await worker.rateLimit(waitMs);
          throw Worker.RateLimitError();
        }
        if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1))
          return settle({ state: 'failed', error: `gave up after ${job.attemptsMade + 1} attempts: ${result.reason}` });
        await settle({ state: 'retrying', error: result.reason, retryAt: Date.now() + backoffDelay(job.attemptsMade + 1, retry, job.id) });
        throw new Error(result.reason);
      }
    }
  };
}

function latencyResult(result: ThreadResult): SendResult {
  if (result.kind === 'retry') return result.rateLimited ? 'rate-limited' : 'transient';
  if (result.kind === 'failed') return 'permanent';
  if (result.kind === 'lost' || result.kind === 'halted') return 'transient';
  return result.kind;
}

/** "image left out: …" and other notes the parts carry, kept on the `sent` entry. */
function notesOf(result: Extract<ThreadResult, { kind: 'sent' }>): { error?: string } {
  const notes = [...new Set(result.posted.map((p) => p.ref?.warning).filter((w): w is string => Boolean(w)))];
  return notes.length ? { error: notes.join('; ') } : {};
}
