import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testContext, dropPrefix, waitFor } from './helpers/context.js';
import { TestSmtpServer } from './helpers/smtp.js';
import { seedSubscribers, storeAlert } from './helpers/fixtures.js';
import { startWorkers, type RunningWorkers } from '../workers/run.js';
import { createPublishProcessor } from '../workers/publish.js';
import { publishAlert } from '../src/publish/publish.js';
import { alertStatus } from '../src/publish/status.js';
import { QUEUE } from '../src/queue/queues.js';
import type { Context } from '../src/context.js';
import { jobIds } from '../src/queue/jobs.js';
import { attemptOf } from './helpers/attempt.js';
import { redisBackends } from './helpers/redis-topology.js';
import { isCluster, scanKeys } from '../src/store/cluster.js';
import type { RedisClient } from '../src/store/lua.js';

// The same flow on the suite's single Redis and on a real 3-master Redis Cluster.
describe.each(redisBackends())('publishing an alert by email (Redis: $name)', (backend) => {
  let ctx: Context;
  let smtp: TestSmtpServer;
  let workers: RunningWorkers;

  beforeAll(async () => {
    const redis = await backend.start();
    smtp = await new TestSmtpServer().start();
    ctx = await testContext('publish-email', { redis, email: { smtpUrl: smtp.url, batchSize: 250 } });
    workers = startWorkers(ctx, new Map());
  });
  afterAll(async () => {
    await workers.close();
    await dropPrefix(ctx);
    await ctx.close();
    await smtp.stop();
    await backend.stop();
  });

  it('delivers exactly one message to each of 2,000 matching subscribers and nothing to the rest', async () => {
    const matching = await seedSubscribers(ctx, 2000, (i) => (i % 2 ? { countries: ['KZ'], minLevel: 'warning' } : { countries: '*', minLevel: 'all' }));
    // Not matching: another country, a higher minimum level, pending, unsubscribed.
    await seedSubscribers(
      ctx,
      50,
      () => ({ countries: ['UA'], minLevel: 'all' }),
      (i) => `other-country${i}@example.org`,
    );
    const above = await seedSubscribers(
      ctx,
      50,
      () => ({ countries: ['KZ'], minLevel: 'emergency' }),
      (i) => `only-emergency${i}@example.org`,
    );
    const pending = await seedSubscribers(
      ctx,
      20,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      (i) => `pending${i}@example.org`,
    );
    for (const id of pending) await ctx.subscribers.update(id, { status: 'pending' });
    const gone = await seedSubscribers(
      ctx,
      20,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      (i) => `gone${i}@example.org`,
    );
    for (const id of gone) await ctx.subscribers.update(id, { status: 'unsubscribed' });
    expect(above.length).toBe(50);

    const alert = await storeAlert(ctx, { level: 'warning' });
    const result = await publishAlert(ctx, alert.id);
    expect(result.outcome).toBe('queued');

    const report = await waitFor(
      async () => {
        const r = await alertStatus(ctx, alert.id);
        return r.complete && r.alert.status === 'published' ? r : undefined;
      },
      'the alert to be published',
      60_000,
    );

    expect(report.counts.channels.email.sent).toBe(2000);
    expect(report.counts.channels.email.total).toBe(2000);
    expect(report.counts.totals.failed).toBe(0);
    expect(report.publication.recipients).toBe(2000);
    expect(report.publication.batches).toBe(8);

    const recipients = smtp.recipients();
    expect(recipients.length).toBe(2000);
    expect(new Set(recipients).size).toBe(2000);
    const expected = new Set(matching.map((_, i) => `reader${i}@example.org`));
    expect(recipients.every((r) => expected.has(r))).toBe(true);

    // Publishing again, or running the publish job again, adds no email and no batch job.
    // The alert is published once every recipient has an outcome; the last batch job may still
    // be finishing (marked completed just after), so count once it has.
    const jobsBefore = await waitFor(async () => {
      const counts = await ctx.queues.get(QUEUE.email).getJobCounts();
      return counts.active === 0 ? counts : undefined;
    }, 'the last batch job to be marked completed');
    const again = await publishAlert(ctx, alert.id);
    expect(again.outcome).toBe('already');
    expect(again.outcome === 'already' && again.message).toMatch(/already published/);
    const rerun = createPublishProcessor(ctx, new Map());
    await ctx.alerts.transition(alert.id, ['published'], 'publishing');
    await rerun(await attemptOf(ctx, jobIds.publish(alert.id)));
    await ctx.publications.finishIfComplete(alert.id);
    await new Promise((r) => setTimeout(r, 500));
    expect(await ctx.queues.get(QUEUE.email).getJobCounts()).toEqual(jobsBefore);
    expect(smtp.received.length).toBe(2000);
    expect((await alertStatus(ctx, alert.id)).counts.channels.email.sent).toBe(2000);

    // On the cluster the keys really are spread: the alert, the subscribers and each queue have
    // their own hash tags, so more than one master holds keys.
    const redis = ctx.redis as RedisClient;
    expect(isCluster(redis)).toBe(backend.name === 'cluster');
    if (isCluster(redis)) {
      const perMaster = await Promise.all(
        redis.nodes('master').map(async (node) => {
          let n = 0;
          for (const pattern of ctx.keys.scanPatterns()) for await (const keys of scanKeys(node, pattern)) n += keys.length;
          return n;
        }),
      );
      console.log(`keys per cluster master: ${perMaster.join(', ')}`);
      expect(perMaster.filter((n) => n > 0).length).toBeGreaterThan(1);
    }
  });
});
