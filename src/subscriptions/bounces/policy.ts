import type { Context } from '../../context.js';
import { emailSchema } from '../../domain/subscriber.js';
import { suppress } from '../suppression.js';
import type { BounceEvent, BounceOutcome, BounceReport } from './types.js';

/**
 * Applies the bounce policy (config subscriptions.bouncePolicy; listmonk's defaults: one hard
 * bounce or one complaint suppresses, soft bounces after three). Counts live per subscriber and
 * go when the subscriber is erased or confirms again.
 */
export async function recordBounce(ctx: Context, event: BounceEvent, via: string): Promise<BounceOutcome> {
  const email = emailSchema.safeParse(event.email);
  if (!email.success) return 'ignored';
  const rule = ctx.config.subscriptions.bouncePolicy[event.kind];
  const id = await ctx.subscribers.idByEmail(email.data);
  if (!id) {
    // Not (or no longer) a subscriber: remember only the keyed hash, so no import adds it later.
    if (event.kind !== 'soft' && rule.action === 'suppress' && rule.count <= 1) {
      await suppress(ctx, email.data);
      return 'suppressed';
    }
    return 'ignored';
  }
  const count = await ctx.redis.hincrby(ctx.keys.subscriberBounces(id), event.kind, 1);
  if (rule.action !== 'suppress' || count < rule.count) return 'counted';
  const sub = await ctx.subscribers.get(id);
  const status = event.kind === 'complaint' ? 'complained' : 'bounced';
  // A complaint outranks a bounce; neither is ever mailed again.
  if (sub && sub.status !== 'complained' && sub.status !== status) await ctx.subscribers.update(id, { status });
  await suppress(ctx, email.data);
  await ctx.redis.del(ctx.keys.subscriptionPending(id));
  await ctx.activity.append({ type: status, subscriber: id, via, kind: event.kind });
  return 'suppressed';
}

export async function recordBounces(ctx: Context, events: BounceEvent[], via: string): Promise<BounceReport> {
  const report: BounceReport = { received: events.length, suppressed: 0, counted: 0, ignored: 0 };
  for (const event of events) report[await recordBounce(ctx, event, via)]++;
  return report;
}
