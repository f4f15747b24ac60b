import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

/** TOCSIN_ADMIN_TOKEN if set; otherwise one generated once and kept in Redis (see `tocsin admin-token`). */
export async function resolveAdminToken(redis: Redis, keys: Keys, configured: string | undefined): Promise<{ token: string; generated: boolean }> {
  if (configured) return { token: configured, generated: false };
  await redis.set(keys.meta('admin-token'), randomBytes(24).toString('base64url'), 'NX');
  const token = await redis.get(keys.meta('admin-token'));
  if (!token) throw new Error('could not read the generated admin token from Redis');
  return { token, generated: true };
}
