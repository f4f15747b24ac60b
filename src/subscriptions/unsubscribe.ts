import type { Context } from '../context.js';

/** Unsubscribes at once. Batches already queued check status before sending, so nothing more goes out. */
export async function unsubscribe(ctx: Context, subscriberId: number, via: string): Promise<boolean> {
  const sub = await ctx.subscribers.get(subscriberId);
  if (!sub || (sub.status !== 'confirmed' && sub.status !== 'pending')) return false;
  await ctx.subscribers.update(subscriberId, { status: 'unsubscribed' });
  await ctx.redis.xadd(ctx.keys.activity(), 'MAXLEN', '~', '10000', '*', 'type', 'unsubscribed', 'subscriber', String(subscriberId), 'via', via);
  return true;
}
