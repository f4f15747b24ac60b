import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropPrefix, testContext, waitFor } from './helpers/context.js';
import { seedSubscribers, storeAlert } from './helpers/fixtures.js';
import { startRedisCluster, type StartedCluster } from './helpers/redis-topology.js';
import { importSubscribers } from '../src/subscriptions/import.js';
import { eraseSubscriber } from '../src/subscriptions/erase.js';
import { expirePending, scheduleExpiry } from '../src/subscriptions/pending.js';
import { ProgressHub } from '../src/console/progress-hub.js';
import { isCluster } from '../src/store/cluster.js';
import type { RedisClient } from '../src/store/lua.js';
import type { Context } from '../src/context.js';

// The parts of Tocsin the end-to-end flows do not reach, on a real 3-master Redis Cluster: the
// CSV import (every key a KEYS argument), erasure (SCAN on every master), the pending-request
// sweep, the alert list (alerts in many slots) and the console's live progress (no multi-slot
// XREAD on a cluster: each stream is polled).

describe('on a Redis Cluster', () => {
  let cluster: StartedCluster;
  let ctx: Context;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    ctx = await testContext('cluster', { redis: { cluster: { nodes: cluster.nodes } } });
  }, 60_000);
  afterAll(async () => {
    try {
      if (ctx) {
        await dropPrefix(ctx);
        await Promise.race([ctx.close(), new Promise((r) => setTimeout(r, 15_000))]);
      }
    } finally {
      await cluster?.stop();
    }
  });

  it('is a cluster, and the alert list reads alerts from every slot they landed in', async () => {
    expect(isCluster(ctx.redis as RedisClient)).toBe(true);
    const made = [];
    for (let i = 0; i < 12; i++) made.push(await storeAlert(ctx));
    const listed = await ctx.alerts.list({ limit: 50 });
    expect(new Set(listed.map((a) => a.id))).toEqual(new Set(made.map((a) => a.id)));
    // The alerts' keys are spread: more than one master holds an alert hash.
    const masters = (ctx.redis as RedisClient as import('ioredis').Cluster).nodes('master');
    const holding = await Promise.all(masters.map(async (node) => (await node.keys(`${ctx.keys.prefix}:alert:*`)).length));
    expect(holding.filter((n) => n > 0).length).toBeGreaterThan(1);
  });

  it('imports a CSV (duplicates merged, suppressed kept out), erases an address everywhere, and sweeps expired requests', async () => {
    const rows = ['email,countries,level'];
    for (let i = 0; i < 300; i++) rows.push(`person${i}@example.org,KZ,all`);
    rows.push('person7@example.org,UA,warning'); // merges into row 8
    const report = await importSubscribers(ctx, Readable.from([rows.join('\n') + '\n']), 'cluster-test');
    expect(report).toMatchObject({ rows: 301, added: 300, merged: 1, rejected: 0 });
    const id7 = (await ctx.subscribers.idByEmail('person7@example.org'))!;
    expect((await ctx.subscribers.get(id7))?.countries).toEqual(['KZ', 'UA']);

    const erased = await eraseSubscriber(ctx, 'person7@example.org');
    expect(erased.found).toBe(true);
    expect(await ctx.subscribers.idByEmail('person7@example.org')).toBeNull();
    const again = await importSubscribers(ctx, Readable.from(['email,countries,level\nperson7@example.org,KZ,all\n']), 'cluster-test');
    expect(again).toMatchObject({ added: 0, suppressed: 1 });

    const [pending] = await seedSubscribers(
      ctx,
      1,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      () => 'late@example.org',
    );
    await ctx.subscribers.update(pending, { status: 'pending' });
    await scheduleExpiry(ctx, pending, 0);
    expect(await expirePending(ctx, Date.now() + 3_600_000)).toBe(1);
    expect(await ctx.subscribers.get(pending)).toBeNull();
  });

  it("sends an alert's delivery events to the console's live progress", async () => {
    const alert = await storeAlert(ctx);
    const hub = new ProgressHub(ctx, { perSession: 5, total: 50 });
    const chunks: string[] = [];
    const close = hub.open(alert.id, 'session-1', { write: (c) => void chunks.push(c), buffered: 0, end: () => {} });
    try {
      await waitFor(async () => chunks.length > 0, 'the first snapshot', 30_000);
      const before = chunks.length;
      await ctx.ledger.enqueue(alert.id, 'email', ['1', '2', '3']);
      await waitFor(async () => chunks.length > before && /"queued":3/.test(chunks.slice(before).join('')), 'a snapshot with the new entries', 30_000);
    } finally {
      close();
      await hub.shutdown();
    }
  });
});
