import type { Context } from '../context.js';
import type { Subscriber } from '../domain/subscriber.js';
import { readPending, takePending, type PendingRequest } from './pending.js';
import { unsuppress } from './suppression.js';

/** What a confirm link points at right now, without changing anything (the GET page). */
export async function inspectConfirmation(
  ctx: Context,
  id: number,
  generation: number,
): Promise<{ request: PendingRequest | null; subscriber: Subscriber | null }> {
  const [pending, subscriber] = await Promise.all([readPending(ctx, id), ctx.subscribers.get(id)]);
  return { request: pending && pending.g === generation && subscriber ? pending : null, subscriber };
}

/**
 * Confirms the request this link was sent for, once. Applies the choices made on the form and
 * records consent: source, time, form version; nothing else.
 */
export async function confirmSubscription(ctx: Context, id: number, generation: number): Promise<{ subscriber: Subscriber; wasConfirmed: boolean } | null> {
  const request = await takePending(ctx, id, generation);
  if (!request) return null;
  const before = await ctx.subscribers.get(id);
  if (!before || before.status === 'complained') return null;
  const confirmedAt = Math.floor(Date.now() / 1000);
  const changes = {
    status: 'confirmed' as const,
    countries: request.countries,
    minLevel: request.minLevel,
    language: request.language,
    confirmedAt,
    consentSource: request.source,
    formVersion: request.formVersion,
  };
  await ctx.subscribers.update(id, changes);
  // A fresh, confirmed opt-in is the one thing that lifts an earlier unsubscribe or bounce.
  await unsuppress(ctx, before.email);
  await ctx.redis.multi().zrem(ctx.keys.pendingExpiry(), String(id)).del(ctx.keys.subscriberBounces(id)).exec();
  await ctx.activity.append({ type: 'subscribed', subscriber: id, via: request.source });
  return { subscriber: { ...before, ...changes }, wasConfirmed: before.status === 'confirmed' };
}
