import type { Context } from '../context.js';
import { hitScript } from '../store/subscription-scripts.js';
import { errors } from '../errors.js';

// Fixed-window counters in Redis, shared by every API process. Keys name a keyed hash of the IP
// or address (see keyed-hash.ts), never the value itself, and expire with their window.

export interface Limit {
  max: number;
  windowS: number;
}

/** Counts one hit; throws 429 (with the wait in the message and `retryAfterS`) once over the limit. */
export async function hit(ctx: Pick<Context, 'redis' | 'keys'>, kind: string, subject: string, limit: Limit, what: string): Promise<void> {
  const [count, ttl] = (await hitScript.run(ctx.redis, [ctx.keys.rateLimit(kind, subject)], [limit.windowS])) as [number, number];
  if (count > limit.max) {
    const minutes = Math.max(1, Math.ceil(ttl / 60));
    const err = errors.RATE_LIMITED(`${what}; try again in ${minutes} minute${minutes === 1 ? '' : 's'}`);
    (err as { retryAfterS?: number }).retryAfterS = ttl;
    throw err;
  }
}
