import { createHmac } from 'node:crypto';
import type { Context } from '../context.js';
import { normaliseEmail } from '../domain/subscriber.js';

/** Keyed hash of an address: lets an erased person stay suppressed without keeping the address. */
export function suppressionHash(secret: string, email: string): string {
  return createHmac('sha256', secret).update(`suppress:${normaliseEmail(email)}`).digest('base64url');
}

export async function isSuppressed(ctx: Pick<Context, 'redis' | 'keys' | 'secret'>, email: string): Promise<boolean> {
  return (await ctx.redis.sismember(ctx.keys.suppressed(), suppressionHash(ctx.secret, email))) === 1;
}

export async function suppress(ctx: Pick<Context, 'redis' | 'keys' | 'secret'>, email: string): Promise<void> {
  await ctx.redis.sadd(ctx.keys.suppressed(), suppressionHash(ctx.secret, email));
}
