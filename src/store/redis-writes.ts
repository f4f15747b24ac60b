import type { Keys } from './keys.js';
import type { RedisClient } from './lua.js';
import { errorText } from '../channels/http-errors.js';

// Whether Redis takes writes. With `maxmemory-policy noeviction` a full Redis refuses every write
// (OOM), and a replica promoted away from, or reached by mistake, refuses them too (READONLY).
// Workers then cannot record outcomes, so they stop; without this check status would keep
// showing `sending` as if nothing were wrong, and the reason would be only in the worker's log.

export interface RedisWriteHealth {
  ok: boolean;
  /** What Redis answered, for staff: "OOM command not allowed when used memory > 'maxmemory'." */
  error?: string;
  checkedAt: string;
}

const PROBE_TTL_MS = 60_000;
const CACHE_MS = 5_000;
const cache = new WeakMap<object, { at: number; result: RedisWriteHealth }>();

/** Writes a small expiring key; cached for a few seconds per connection. */
export async function probeRedisWrites(redis: RedisClient, keys: Keys): Promise<RedisWriteHealth> {
  const cached = cache.get(redis);
  if (cached && Date.now() - cached.at < CACHE_MS) return cached.result;
  const checkedAt = new Date().toISOString();
  let result: RedisWriteHealth;
  try {
    await redis.set(keys.meta('write-probe'), checkedAt, 'PX', PROBE_TTL_MS);
    result = { ok: true, checkedAt };
  } catch (err) {
    result = { ok: false, error: errorText(err), checkedAt };
  }
  cache.set(redis, { at: Date.now(), result });
  return result;
}

/** The sentence status and the health page show when writes are refused. */
export function redisWriteProblem(health: RedisWriteHealth): string | undefined {
  if (health.ok) return undefined;
  const why = /OOM/.test(health.error ?? '')
    ? 'it is out of memory (maxmemory reached with noeviction): free memory or raise maxmemory'
    : /READONLY/.test(health.error ?? '')
      ? 'it is a read-only replica: point REDIS_URL at the primary'
      : 'it refused a write';
  return `Redis refuses writes, so no delivery can be recorded and sending has stopped: ${why}. Redis said: ${health.error}`;
}
