import type { Context } from '../context.js';
import type { Subscriber } from '../domain/subscriber.js';
import { suppress } from './suppression.js';

/**
 * Unsubscribes at once. Batches already queued look the status up just before sending
 * (SubscriberStore.recipients), so nothing more goes out. The address joins the suppression list
 * (imports skip it) and any outstanding confirm link dies with the pending request.
 * Returns the subscriber as it was, or null if there was nothing to unsubscribe.
 */
export async function unsubscribe(ctx: Context, subscriberId: number, via: string): Promise<Subscriber | null> {
  const sub = await ctx.subscribers.get(subscriberId);
  if (!sub || (sub.status !== 'confirmed' && sub.status !== 'pending')) return null;
  await ctx.subscribers.update(subscriberId, { status: 'unsubscribed' });
  await suppress(ctx, sub.email);
  await ctx.redis.multi().del(ctx.keys.subscriptionPending(subscriberId)).zrem(ctx.keys.pendingExpiry(), String(subscriberId)).exec();
  await ctx.activity.append({ type: 'unsubscribed', subscriber: subscriberId, via });
  return sub;
}
