import { Redis, type RedisOptions } from 'ioredis';
import { errors } from '../errors.js';
import { registerScripts } from './scripts.js';

export const REDIS_HELP =
  'Tocsin needs a Redis server. Start one with `apt install redis-server` (then `redis-server`), ' +
  'or `docker compose up redis`, or point REDIS_URL at an existing server (e.g. redis://host:6379).';

export interface ConnectOptions {
  /** BullMQ workers need maxRetriesPerRequest: null; everything else fails fast. */
  forWorker?: boolean;
  connectTimeoutMs?: number;
}

/** Connects and pings; on failure throws an error that says how to get Redis, never hangs. */
export async function connectRedis(url: string, options: ConnectOptions = {}): Promise<Redis> {
  const redisOptions: RedisOptions = {
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 5000,
    maxRetriesPerRequest: options.forWorker ? null : 3,
    enableOfflineQueue: true,
    // Concurrent commands (one ledger write per sent message) share round trips.
    enableAutoPipelining: true,
  };
  const redis = new Redis(url, redisOptions);
  registerScripts(redis);
  redis.on('error', () => {
    /* reported through connect() and command failures; ioredis reconnects by itself */
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw errors.REDIS_UNREACHABLE(`Cannot reach Redis at ${redactUrl(url)}: ${(err as Error).message}. ${REDIS_HELP}`);
  }
  return redis;
}

/** redis://user:secret@host -> redis://user:***@host, so logs never carry a password. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
