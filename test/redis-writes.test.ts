import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { testConfig, waitFor } from './helpers/context.js';
import { startPrivateRedis, type PrivateRedis } from '../bench/lib/private-redis.js';
import { createContext, type Context } from '../src/context.js';
import { createLogger } from '../src/log.js';
import { seedSubscribers, storeAlert } from './helpers/fixtures.js';
import { publishAlert } from '../src/publish/publish.js';
import { alertStatus } from '../src/publish/status.js';
import { formatStatus } from '../src/cli/commands/status-format.js';

// Issue 12: when Redis refuses writes (out of memory under noeviction, or a read-only replica),
// status showed deliveries as `sending` and the reason was only in a worker's log.
// This test changes maxmemory, so it runs its own redis-server, never the suite's shared one.

describe('Redis refusing writes', () => {
  let redis: PrivateRedis;
  let ctx: Context;
  let admin: Redis;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    ctx = await createContext(testConfig('redis-full', { redis: { url: redis.url } }), { log: createLogger('silent') });
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    admin.disconnect();
    await ctx.close();
    await redis.stop();
  });

  it('shows in status, with what Redis said and what to do, and clears once Redis takes writes again', async () => {
    await seedSubscribers(ctx, 20);
    const alert = await storeAlert(ctx);
    await publishAlert(ctx, alert.id);
    expect((await alertStatus(ctx, alert.id)).warnings).toEqual([]);

    await admin.config('SET', 'maxmemory', '1');
    const full = await waitFor(async () => {
      const r = await alertStatus(ctx, alert.id);
      return r.warnings.length ? r : undefined;
    }, 'the status to report refused writes');
    expect(full.warnings[0]).toMatch(/^Redis refuses writes, so no delivery can be recorded and sending has stopped: it is out of memory/);
    expect(full.warnings[0]).toContain('OOM command not allowed');
    expect(formatStatus(full)).toContain('WARNING: Redis refuses writes');

    await admin.config('SET', 'maxmemory', '0');
    await waitFor(async () => ((await alertStatus(ctx, alert.id)).warnings.length === 0 ? true : undefined), 'the warning to clear');
  });
});
