import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createContext, type Context } from '../../src/context.js';
import { createLogger } from '../../src/log.js';
import { scanKeys } from '../../src/store/cluster.js';
import type { Config } from '../../src/config/schema.js';
import type { ProviderRegistry } from '../../src/channels/providers.js';

export const testRedisUrl = (): string => inject('redisUrl');

/** A unique key prefix per test context, on the suite's private Redis. */
export const uniquePrefix = (name: string): string => `t-${name}-${randomBytes(4).toString('hex')}`;

export function testConfig(name: string, overrides: Record<string, unknown> = {}, providers?: ProviderRegistry): Config {
  const base = {
    redis: { url: testRedisUrl(), prefix: uniquePrefix(name) },
    log: { level: process.env.TEST_LOG_LEVEL ?? 'silent' },
    http: { port: 0, publicUrl: 'http://127.0.0.1:8080' },
    workers: { lockDurationMs: 2000, stalledIntervalMs: 1000 },
    email: { retry: { baseDelayMs: 200, maxDelayMs: 1000, maxAttempts: 40 }, breaker: { pauseMs: 1000, maxPauseMs: 2000 } },
    retry: { baseDelayMs: 200, maxDelayMs: 1000, maxAttempts: 5 },
  };
  return loadConfig({
    path: '/dev/null',
    env: { TOCSIN_SECRET: 'test-secret-test-secret-test-secret-0123', TOCSIN_ADMIN_TOKEN: 'test-admin-token-0123456789' },
    overrides: deepMerge(base, overrides),
    ...(providers ? { providers } : {}),
  });
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? deepMerge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export async function testContext(name: string, overrides: Record<string, unknown> = {}, providers?: ProviderRegistry): Promise<Context> {
  const config = testConfig(name, overrides, providers);
  return createContext(config, { log: createLogger(config.log.level), ...(providers ? { providers } : {}) });
}

/** Deletes every key under the context's prefix (and only those), on a server or every cluster master. */
export async function dropPrefix(ctx: Context): Promise<void> {
  for (const pattern of ctx.keys.scanPatterns())
    for await (const keys of scanKeys(ctx.redis, pattern)) {
      // One UNLINK per key on a cluster: a page holds keys of many slots.
      if (ctx.keys.cluster) await Promise.all(keys.map((key) => ctx.redis.unlink(key)));
      else await ctx.redis.unlink(...keys);
    }
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false | null>, what: string, timeoutMs = 30_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** Keys under the context's prefix: the Redis server is shared by test files running in parallel. */
export async function prefixKeys(ctx: Context): Promise<string[]> {
  const found: string[] = [];
  for (const pattern of ctx.keys.scanPatterns()) for await (const keys of scanKeys(ctx.redis, pattern)) found.push(...keys);
  return found.sort();
}
