import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testContext, dropPrefix } from './helpers/context.js';
import { seedSubscribers, storeAlert } from './helpers/fixtures.js';
import { attemptOf } from './helpers/attempt.js';
import { createPublishProcessor } from '../workers/publish.js';
import { jobIds, QUEUE } from '../src/queue/jobs.js';
import type { Context } from '../src/context.js';

// Issue 12: when the publish job's lock lapses, BullMQ runs it again while the first run is still
// going. The counts came out 2,750 or 4,000 for 2,000 recipients, because every run added its
// batches to the totals. The cursor now moves only by compare-and-set.

describe('two runs of the same publish job at once', () => {
  let ctx: Context;

  beforeAll(async () => {
    ctx = await testContext('publish-counts', { email: { batchSize: 250 } });
  });
  afterAll(async () => {
    await dropPrefix(ctx);
    await ctx.close();
  });

  it('queue each batch once and count 2,000 recipients in 8 batches, exactly', async () => {
    await seedSubscribers(
      ctx,
      2000,
      () => ({ countries: ['SO'], minLevel: 'all' }),
      (i) => `somalia${i}@example.org`,
    );
    await seedSubscribers(
      ctx,
      300,
      () => ({ countries: ['UA'], minLevel: 'all' }),
      (i) => `elsewhere${i}@example.org`,
    );
    const alert = await storeAlert(ctx, { countries: ['SO'], level: 'warning' });
    await ctx.alerts.transition(alert.id, ['draft'], 'publishing');
    await ctx.queues.add({ kind: 'publish', alertId: alert.id }, jobIds.publish(alert.id), { level: alert.level });

    const process = createPublishProcessor(ctx, new Map());
    const attempts = await Promise.all([attemptOf<'publish'>(ctx, jobIds.publish(alert.id)), attemptOf<'publish'>(ctx, jobIds.publish(alert.id))]);
    try {
      await Promise.all(attempts.map((attempt) => process(attempt)));
    } finally {
      for (const a of attempts) {
        a.lease.stop();
        await a.worker.close();
      }
    }

    const publication = await ctx.publications.get(alert.id);
    expect(publication).toMatchObject({ state: 'fanned-out', recipients: 2000, batches: 8 });
    const counts = await ctx.ledger.counts(alert.id);
    expect(counts.channels.email).toMatchObject({ total: 2000, queued: 2000 });
    const batches = await ctx.queues.get(QUEUE.email).getJobs(['waiting', 'delayed', 'prioritized']);
    const mine = batches.filter((j) => j.data.alertId === alert.id);
    expect(mine).toHaveLength(8);
    expect(mine.reduce((n, j) => n + (j.data as { subscriberIds: number[] }).subscriberIds.length, 0)).toBe(2000);
  });
});
