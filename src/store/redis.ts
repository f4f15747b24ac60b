import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'bullmq';
import type { Config } from '../config/schema.js';
import { errors } from '../errors.js';
import { registerScripts } from './scripts.js';
import type { RedisClient } from './lua.js';

export type { RedisClient } from './lua.js';
export { isCluster, multiOrEach, scanKeys } from './cluster.js';

export const REDIS_HELP =
  'Tocsin needs a Redis server. Start one with `apt install redis-server` (then `redis-server`), ' +
  'or `docker compose up redis`, or point REDIS_URL at an existing server (e.g. redis://host:6379).';

/** Where Redis is: one server (REDIS_URL), a Sentinel-watched primary, or a cluster. */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'sentinel'; url: string; sentinels: Array<{ host: string; port: number }>; name: string }
  | { kind: 'cluster'; url: string; nodes: Array<{ host: string; port: number }> };

function hostPort(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  return { host: text.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(text.slice(at + 1)) };
}

export function redisTarget(redis: Config['redis']): RedisTarget {
  if (redis.cluster) return { kind: 'cluster', url: redis.url, nodes: redis.cluster.nodes.map(hostPort) };
  if (redis.sentinel) return { kind: 'sentinel', url: redis.url, sentinels: redis.sentinel.sentinels.map(hostPort), name: redis.sentinel.name };
  return { kind: 'single', url: redis.url };
}

/** Replicas a ledger write waits for (WAIT): explicit, else 1 behind Sentinel; never on a cluster. */
export function waitReplicasFor(redis: Config['redis']): number {
  if (redis.cluster) return 0;
  return redis.waitReplicas ?? (redis.sentinel ? 1 : 0);
}

export function describeTarget(target: RedisTarget): string {
  if (target.kind === 'cluster') return `cluster ${target.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (target.kind === 'sentinel') return `sentinel ${target.name} via ${target.sentinels.map((n) => `${n.host}:${n.port}`).join(',')}`;
  return redactUrl(target.url);
}

/** Password, user, TLS and database from the URL, for the Sentinel and cluster forms. */
function urlOptions(url: string): RedisOptions {
  const parsed = new URL(url);
  const db = Number(parsed.pathname.slice(1) || 0);
  return {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    ...(db ? { db } : {}),
  };
}

/** A new, not yet connected client for `target` (no scripts registered). */
export function newRedisClient(target: RedisTarget, options: RedisOptions): RedisClient {
  if (target.kind === 'single') return new Redis(target.url, options);
  if (target.kind === 'sentinel') {
    const auth = urlOptions(target.url);
    return new Redis({
      ...options,
      ...auth,
      sentinels: target.sentinels,
      name: target.name,
      // After a failover the old primary may come back as a replica: a write there fails with
      // READONLY; reconnect (and ask the sentinels again) instead of failing every write.
      reconnectOnError: (err) => err.message.startsWith('READONLY'),
    });
  }
  const { db: _db, ...auth } = urlOptions(target.url);
  const clusterOptions: ClusterOptions = {
    redisOptions: { ...auth, connectTimeout: options.connectTimeout },
    lazyConnect: options.lazyConnect,
    maxRedirections: 32,
    // Slot moves and failovers are answered by MOVED/CLUSTERDOWN: retry rather than fail a send.
    retryDelayOnClusterDown: 200,
    retryDelayOnFailover: 200,
    enableOfflineQueue: options.enableOfflineQueue,
    enableAutoPipelining: options.enableAutoPipelining,
  };
  if (options.maxRetriesPerRequest !== undefined)
    clusterOptions.redisOptions = { ...clusterOptions.redisOptions, maxRetriesPerRequest: options.maxRetriesPerRequest };
  return new Cluster(target.nodes, clusterOptions);
}

export interface ConnectOptions {
  /** BullMQ workers need maxRetriesPerRequest: null; everything else fails fast. */
  forWorker?: boolean;
  connectTimeoutMs?: number;
}

/** Connects and pings; on failure throws an error that says how to get Redis, never hangs. */
export async function connectRedis(target: RedisTarget | string, options: ConnectOptions = {}): Promise<Redis> {
  const where: RedisTarget = typeof target === 'string' ? { kind: 'single', url: target } : target;
  const redisOptions: RedisOptions = {
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 5000,
    maxRetriesPerRequest: options.forWorker ? null : 3,
    enableOfflineQueue: true,
    // Concurrent commands (one ledger write per sent message) share round trips.
    enableAutoPipelining: true,
  };
  const redis = newRedisClient(where, redisOptions);
  registerScripts(redis);
  redis.on('error', () => {
    /* reported through connect() and command failures; ioredis reconnects by itself */
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw errors.REDIS_UNREACHABLE(`Cannot reach Redis at ${describeTarget(where)}: ${(err as Error).message}. ${REDIS_HELP}`);
  }
  // The cluster client answers every command a single-server client does (routed by key); the
  // few that differ (SCAN, multi-key XREAD, cross-slot MULTI) check isCluster() first.
  return redis as Redis;
}

/**
 * BullMQ's connection: options for one server or Sentinel (BullMQ opens its own clients), and a
 * Cluster client for a cluster (BullMQ takes no cluster options, only a client; it duplicates it
 * for blocking reads). The caller closes what `owned` lists.
 */
export function bullConnection(target: RedisTarget): { connection: ConnectionOptions; owned: Cluster[] } {
  if (target.kind === 'single') return { connection: { url: target.url, maxRetriesPerRequest: null }, owned: [] };
  if (target.kind === 'sentinel')
    return {
      connection: {
        ...urlOptions(target.url),
        sentinels: target.sentinels,
        name: target.name,
        maxRetriesPerRequest: null,
        reconnectOnError: (err: Error) => err.message.startsWith('READONLY'),
      } as ConnectionOptions,
      owned: [],
    };
  const cluster = newRedisClient(target, { maxRetriesPerRequest: null, connectTimeout: 5000, enableOfflineQueue: true }) as Cluster;
  cluster.on('error', () => {
    /* BullMQ reports failures through its own calls */
  });
  return { connection: cluster, owned: [cluster] };
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
