import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './lua.js';

// The few places where a Redis Cluster client differs from a single-server one: SCAN (per
// master), and transactions over keys of different slots.

export function isCluster(redis: RedisClient): redis is Cluster {
  return (redis as { isCluster?: boolean }).isCluster === true;
}

/** Every key matching `pattern`, in pages: SCAN on a server, SCAN on every master of a cluster. */
export async function* scanKeys(redis: RedisClient, pattern: string, count = 1000): AsyncGenerator<string[]> {
  const nodes: Redis[] = isCluster(redis) ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      if (keys.length) yield keys;
    } while (cursor !== '0');
  }
}

/**
 * Runs commands as one MULTI on a server. On a cluster, keys of different slots cannot share a
 * transaction, so each command runs on its own (the callers order them so a crash in between
 * leaves nothing a reader would trip on). Results in `exec()` form.
 */
export async function multiOrEach(redis: RedisClient, build: (tx: ReturnType<Redis['multi']>) => unknown): Promise<Array<[Error | null, unknown]>> {
  if (!isCluster(redis)) return ((await (build((redis as Redis).multi()) as ReturnType<Redis['multi']>).exec()) ?? []) as Array<[Error | null, unknown]>;
  const calls: Array<[string, unknown[]]> = [];
  const recorder: unknown = new Proxy(
    {},
    {
      get:
        (_target, name) =>
        (...args: unknown[]) => {
          calls.push([String(name), args]);
          return recorder;
        },
    },
  );
  build(recorder as ReturnType<Redis['multi']>);
  const out: Array<[Error | null, unknown]> = [];
  for (const [name, args] of calls) {
    try {
      out.push([null, await (redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name](...args)]);
    } catch (err) {
      out.push([err as Error, null]);
    }
  }
  return out;
}
