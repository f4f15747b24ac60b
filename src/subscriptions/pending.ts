import { randomInt } from 'node:crypto';
import type { Context } from '../context.js';
import { takeScript, expireScript } from '../store/subscription-scripts.js';
import { normaliseEmail, type MinLevel } from '../domain/subscriber.js';

// A subscription request waits here until its confirmation link is used. It holds the choices
// made on the form, so nothing about an existing subscription changes before the owner of the
// address confirms. `g` is the generation: each confirmation mail gets a new one, and only the
// link carrying the current `g` confirms, so older links (and every link after an unsubscribe)
// are dead.

export type ConsentSource = 'form' | 'api';

export interface PendingRequest {
  g: number;
  countries: string[] | '*';
  minLevel: MinLevel;
  language: string;
  source: ConsentSource;
  formVersion: string;
  /** Epoch seconds. */
  requestedAt: number;
}

type Ctx = Pick<Context, 'redis' | 'keys' | 'config'>;

export const newGeneration = (): number => randomInt(1, 2 ** 31 - 1);

export async function savePending(ctx: Ctx, id: number, request: PendingRequest): Promise<void> {
  await ctx.redis.set(ctx.keys.subscriptionPending(id), JSON.stringify(request), 'EX', ctx.config.subscriptions.pendingExpiryS);
}

export async function readPending(ctx: Ctx, id: number): Promise<PendingRequest | null> {
  const raw = await ctx.redis.get(ctx.keys.subscriptionPending(id));
  return raw ? (JSON.parse(raw) as PendingRequest) : null;
}

/** Takes the request for confirmation, once: a second POST of the same link finds nothing. */
export async function takePending(ctx: Ctx, id: number, generation: number): Promise<PendingRequest | null> {
  const raw = (await takeScript.run(ctx.redis, [ctx.keys.subscriptionPending(id)], [generation])) as string | null;
  return raw ? (JSON.parse(raw) as PendingRequest) : null;
}

/**
 * An unconfirmed record is deleted once its latest confirm link has expired (plus a margin, so a
 * confirmation in the last second is never raced by the sweep).
 */
export async function scheduleExpiry(ctx: Ctx, id: number, now = Date.now()): Promise<void> {
  await ctx.redis.zadd(ctx.keys.pendingExpiry(), now + ctx.config.subscriptions.pendingExpiryS * 1000 + 5 * 60_000, String(id));
}

/** Deletes unconfirmed records whose time is up. Cheap when there is nothing to do; safe to run anywhere. */
export async function expirePending(ctx: Ctx & Pick<Context, 'subscribers'>, now = Date.now(), max = 500): Promise<number> {
  const ids = await ctx.redis.zrangebyscore(ctx.keys.pendingExpiry(), '-inf', now, 'LIMIT', 0, max);
  let deleted = 0;
  for (const raw of ids) {
    const id = Number(raw);
    const sub = await ctx.subscribers.get(id);
    if (!sub || sub.status !== 'pending') {
      await ctx.redis.zrem(ctx.keys.pendingExpiry(), raw);
      continue;
    }
    const email = normaliseEmail(sub.email);
    deleted += (await expireScript.run(
      ctx.redis,
      [ctx.keys.subscriber(id), ctx.keys.subscriberByEmail(email), ctx.keys.subscriptionPending(id), ctx.keys.subscriberBounces(id), ctx.keys.pendingExpiry()],
      [raw, email],
    )) as number;
  }
  return deleted;
}
