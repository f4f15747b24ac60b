import { Worker, type Job } from 'bullmq';
import type { Context } from '../src/context.js';
import type { AccountPostJob } from '../src/queue/jobs.js';
import type { Outcome } from '../src/store/ledger.js';
import { DeliveryError, type AccountChannel, type PostedPart, type RenderedMessage } from '../src/channels/types.js';
import { loadRendered } from '../src/publish/rendered.js';
import { backoffDelay } from '../src/queue/queues.js';
import { HealthStore } from '../src/store/health.js';

const TARGET = 'post';

/**
 * Posts one alert to one account. Parts of a thread are recorded as each is accepted, so a retry
 * resumes after the last accepted part. An interrupted send is never re-posted blindly: it is
 * looked up at the provider where possible, and otherwise recorded as `unknown`.
 */
export function createAccountProcessor(ctx: Context, adapter: AccountChannel, getWorker: () => Worker | undefined) {
  const health = new HealthStore(ctx.redis, ctx.keys);
  const retry = ctx.config.retry;

  return async (job: Job<AccountPostJob>): Promise<Outcome['state']> => {
    const { alertId, channel } = job.data;
    const owner = job.id as string;
    const partsKey = ctx.keys.postedParts(alertId, channel);
    const message = await loadRendered<RenderedMessage>(ctx, alertId, channel);
    if (!message) throw new Error(`alert ${alertId} has no rendered message for ${channel}`);

    const [claim] = await ctx.ledger.claim(alertId, channel, owner, [TARGET], adapter.safeToResend ? 'resend' : 'unknown');
    if (!claim) {
      await ctx.publications.finishIfComplete(alertId);
      return 'skipped';
    }
    const posted = (await ctx.redis.lrange(partsKey, 0, -1)).map((raw) => JSON.parse(raw) as PostedPart);
    const context = {
      posted,
      idempotencyKey: `tocsin-${alertId}-${channel}`,
      onPosted: async (part: PostedPart) => {
        posted.push(part);
        await ctx.redis.rpush(partsKey, JSON.stringify(part));
      },
    };
    const settle = async (outcome: Omit<Outcome, 'target'>) => {
      await ctx.ledger.settle(alertId, channel, owner, [{ target: TARGET, ...outcome }]);
      if (outcome.state === 'sent' || outcome.state === 'failed' || outcome.state === 'unknown') {
        await health.recordDelivery(channel, outcome.state === 'sent', outcome.error);
      }
      await ctx.publications.finishIfComplete(alertId);
      return outcome.state;
    };
    const sentOutcome = () => ({ state: 'sent' as const, providerId: posted[0]?.id, url: posted[0]?.url });

    // An earlier run of this job died mid-send (safeToResend adapters only reach here): record a
    // part the provider already has, and finish only if that completes the thread.
    if (claim.resumed && adapter.findExisting) {
      const found = await adapter.findExisting(message, context).catch(() => undefined);
      if (found && !posted.some((p) => p.id === found.id)) await context.onPosted(found);
      if (found && posted.length >= message.parts.length) return settle(sentOutcome());
    }

    try {
      await adapter.deliver(message, context);
      return await settle(sentOutcome());
    } catch (err) {
      const e = err instanceof DeliveryError ? err : new DeliveryError('transient', (err as Error).message ?? String(err));
      const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const partial = posted.length > 0 ? ` (after ${posted.length} of ${message.parts.length} parts)` : '';
      switch (e.kind) {
        case 'rate-limited': {
          const waitMs = Math.max(1000, (e.options.retryAt ?? Date.now() + 60_000) - Date.now());
          await settle({ state: 'retrying', error: `rate limited${partial}: ${e.message}`, retryAt: Date.now() + waitMs });
          // Holds this account's whole queue until the provider's reset; no attempt is spent.
          const worker = getWorker();
          if (worker) {
            await worker.rateLimit(waitMs);
            throw Worker.RateLimitError();
          }
          throw e;
        }
        case 'unknown-outcome': {
          const found = adapter.findExisting ? await adapter.findExisting(message, context).catch(() => undefined) : undefined;
          if (found) {
            if (!posted.some((p) => p.id === found.id)) await context.onPosted(found);
            // The lost part exists: the rest of the thread can go on in a later attempt.
            if (posted.length < message.parts.length) {
              await settle({ state: 'retrying', error: `resuming after a lost reply${partial}`, retryAt: Date.now() });
              throw new Error('part found after a lost reply; resuming the thread', { cause: err });
            }
            return settle(sentOutcome());
          }
          if (found === null && !finalAttempt) {
            await settle({
              state: 'retrying',
              error: `timed out, and the provider has no such post: ${e.message}`,
              retryAt: Date.now() + backoffDelay(job.attemptsMade + 1, retry, owner),
            });
            throw e;
          }
          return settle({
            state: 'unknown',
            error: `outcome unknown${partial}: ${e.message}`,
            ...(posted[0] ? { providerId: posted[0].id, url: posted[0].url } : {}),
          });
        }
        case 'permanent':
          return settle({ state: 'failed', error: `${e.message}${partial}` });
        case 'transient':
          if (finalAttempt) return settle({ state: 'failed', error: `gave up after ${job.attemptsMade + 1} attempts${partial}: ${e.message}` });
          await settle({ state: 'retrying', error: `${e.message}${partial}`, retryAt: Date.now() + backoffDelay(job.attemptsMade + 1, retry, owner) });
          throw e;
      }
    }
  };
}
