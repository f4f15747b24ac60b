import { createHmac } from 'node:crypto';
import type { Context } from '../context.js';
import { normaliseEmail } from '../domain/subscriber.js';

// The suppression list holds keyed hashes only. A person who unsubscribed, bounced, complained or
// asked to be erased stays here, so an import can never add them back; erasure keeps nothing else.

/** Keyed hash of an address: lets an erased person stay suppressed without keeping the address. */
export function suppressionHash(secret: string, email: string): string {
  return createHmac('sha256', secret)
    .update(`suppress:${normaliseEmail(email)}`)
    .digest('base64url');
}

type Ctx = Pick<Context, 'redis' | 'keys' | 'secret'>;

export async function isSuppressed(ctx: Ctx, email: string): Promise<boolean> {
  return (await ctx.redis.sismember(ctx.keys.suppressed(), suppressionHash(ctx.secret, email))) === 1;
}

export async function suppress(ctx: Ctx, email: string): Promise<void> {
  await ctx.redis.sadd(ctx.keys.suppressed(), suppressionHash(ctx.secret, email));
}

/** Only a fresh, confirmed opt-in lifts a suppression. */
export async function unsuppress(ctx: Ctx, email: string): Promise<void> {
  await ctx.redis.srem(ctx.keys.suppressed(), suppressionHash(ctx.secret, email));
}
