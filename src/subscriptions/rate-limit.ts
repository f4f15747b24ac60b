import type { Context } from '../context.js';
import { errors } from '../errors.js';
import { defineLua } from '../store/lua.js';

// Fixed-window counters in Redis, shared by every API process. Keys name a keyed hash of the IP
// or address (see keyed-hash.ts), never the value itself, and expire with their window.

// KEYS: counter. ARGV: window seconds. Returns {count, ttl}.
const hitScript = defineLua(
  'rate_limit_hit',
  1,
  `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
`,
);

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
