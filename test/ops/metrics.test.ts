import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { testContext, dropPrefix, waitFor } from '../helpers/context.js';
import { TestSmtpServer } from '../helpers/smtp.js';
import { seedSubscribers, storeAlert } from '../helpers/fixtures.js';
import { startWorkers, type RunningWorkers } from '../../workers/run.js';
import { buildServer } from '../../src/http/server.js';
import { buildAccounts } from '../../src/channels/accounts.js';
import { metricsPlugin } from '../../src/metrics/routes.js';
import { cachedSubscriberCounts } from '../../src/metrics/snapshot.js';
import { adminTokenAuth, anyAuth, mountBullBoard } from '../../src/metrics/bull-board.js';
import { errors } from '../../src/errors.js';
import Fastify from 'fastify';
import { publishAlert } from '../../src/publish/publish.js';
import { alertStatus } from '../../src/publish/status.js';
import type { Context } from '../../src/context.js';
import { Receiver } from './receiver.js';
import { parseProm, sample, type Sample } from './prom.js';

const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';
const ADMIN_TOKEN = 'test-admin-token-0123456789';

describe('GET /metrics and Bull Board', () => {
  let ctx: Context;
  let smtp: TestSmtpServer;
  let hooks: Receiver;
  let workers: RunningWorkers;
  let app: FastifyInstance;
  let base: string;

  beforeAll(async () => {
    smtp = await new TestSmtpServer().start();
    hooks = await new Receiver().start();
    ctx = await testContext('ops-metrics', {
      email: { smtpUrl: smtp.url, batchSize: 40 },
      webhooks: [{ id: 'partner-hook', url: `${hooks.url}/alerts` }],
      metrics: { latencyFlushMs: 50, subscriberCountCacheMs: 0 },
    });
    const accounts = await buildAccounts(ctx.config, ctx.providers, {});
    workers = startWorkers(ctx, accounts);
    app = await buildServer(ctx, { plugins: [metricsPlugin({ env: { TOCSIN_METRICS_TOKEN: METRICS_TOKEN } })] });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app?.close();
    await workers?.close();
    await dropPrefix(ctx);
    await ctx.close();
    await smtp.stop();
    await hooks.stop();
  });

  const scrape = async (): Promise<Sample[]> => {
    const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseProm(await res.text());
  };

  it('answers 401 without its own token, and refuses the admin token', async () => {
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer wrong-token-wrong-token' },
      { authorization: `Bearer ${ADMIN_TOKEN}` },
      { authorization: `Basic ${Buffer.from(`x:${METRICS_TOKEN}`).toString('base64')}` },
    ];
    for (const headers of attempts) {
      const res = await fetch(`${base}/metrics`, { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ statusCode: 401, code: 'TOCSIN_ERR_UNAUTHORIZED' });
    }
  });

  it('reports deliveries, publish time, queues, subscribers and send latency that match the ledger after a real publish', async () => {
    await seedSubscribers(ctx, 100, () => ({ countries: ['KZ'], minLevel: 'all' }));
    const pending = await seedSubscribers(
      ctx,
      3,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      (i) => `pending${i}@example.org`,
    );
    for (const id of pending) await ctx.subscribers.update(id, { status: 'pending' });
    const gone = await seedSubscribers(
      ctx,
      2,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      (i) => `gone${i}@example.org`,
    );
    for (const id of gone) await ctx.subscribers.update(id, { status: 'unsubscribed' });
    smtp.behaviour.rejectRecipient = (a) => (a === 'reader7@example.org' ? { code: 550, message: '5.7.1 message refused by policy' } : undefined);

    const alert = await storeAlert(ctx, { level: 'warning' });
    await publishAlert(ctx, alert.id);
    const report = await waitFor(async () => {
      const r = await alertStatus(ctx, alert.id);
      return r.complete && r.alert.status === 'published' ? r : undefined;
    }, 'the alert to be published');
    expect(report.counts.channels.email).toMatchObject({ total: 100, sent: 99, failed: 1 });

    // Latency samples reach Redis on the workers' flush; wait for them, then compare everything.
    const samples = await waitFor(async () => {
      const s = await scrape();
      const sent = sample(s, 'tocsin_send_duration_seconds_count', { channel: 'email', result: 'sent' });
      const hook = sample(s, 'tocsin_send_duration_seconds_count', { channel: 'partner-hook', result: 'sent' });
      return sent === 99 && hook === 1 ? s : undefined;
    }, 'latency samples from the workers');

    const counts = await ctx.ledger.counts(alert.id);
    for (const [channel, c] of Object.entries(counts.channels)) {
      for (const state of ['sent', 'failed', 'unknown', 'skipped', 'queued', 'sending', 'retrying'] as const) {
        expect(sample(samples, 'tocsin_alert_deliveries', { alert: alert.id, channel, state }), `${channel} ${state}`).toBe(c[state]);
      }
    }
    expect(Object.keys(counts.channels).sort()).toEqual(['email', 'partner-hook']);
    expect(sample(samples, 'tocsin_alert_outstanding_deliveries', { alert: alert.id })).toBe(0);
    expect(sample(samples, 'tocsin_alert_info', { alert: alert.id, slug: alert.slug, status: 'published', level: 'warning' })).toBe(1);

    const pub = await ctx.publications.get(alert.id);
    const expected = (Date.parse(pub.finishedAt!) - Date.parse(pub.startedAt!)) / 1000;
    expect(sample(samples, 'tocsin_alert_publish_duration_seconds', { alert: alert.id })).toBeCloseTo(expected, 3);
    expect(sample(samples, 'tocsin_alert_publish_started_timestamp_seconds', { alert: alert.id })).toBeCloseTo(Date.parse(pub.startedAt!) / 1000, 3);

    const byStatus = await ctx.subscribers.countByStatus();
    expect(byStatus).toMatchObject({ confirmed: 100, pending: 3, unsubscribed: 2 });
    for (const [status, n] of Object.entries(byStatus)) expect(sample(samples, 'tocsin_subscribers', { status })).toBe(n);
    expect(sample(samples, 'tocsin_subscribers_counted_timestamp_seconds')).toBeLessThanOrEqual(Date.now() / 1000);

    for (const queue of ['publish', 'schedule', 'email', 'account-partner-hook']) {
      const live = await ctx.queues.get(queue).getJobCounts('waiting', 'delayed', 'active');
      expect(sample(samples, 'tocsin_queue_jobs', { queue, state: 'delayed' })).toBe(live.delayed);
      expect(sample(samples, 'tocsin_queue_jobs', { queue, state: 'waiting' })).toBe(live.waiting);
      expect(sample(samples, 'tocsin_queue_depth', { queue })).toBe(0);
    }

    // A well-formed histogram: cumulative buckets ending in +Inf = count, one permanent failure.
    const buckets = samples.filter((s) => s.name === 'tocsin_send_duration_seconds_bucket' && s.labels.channel === 'email' && s.labels.result === 'sent');
    expect(buckets.at(-1)).toMatchObject({ labels: { le: '+Inf' }, value: 99 });
    expect(buckets.every((b, i) => i === 0 || b.value >= buckets[i - 1].value)).toBe(true);
    expect(sample(samples, 'tocsin_send_duration_seconds_count', { channel: 'email', result: 'permanent' })).toBe(1);
    expect(sample(samples, 'tocsin_send_duration_seconds_sum', { channel: 'email', result: 'sent' })).toBeGreaterThan(0);
    expect(sample(samples, 'tocsin_channel_consecutive_failures', { channel: 'partner-hook' })).toBe(0);
  });

  it('is off, and says how to turn it on, when its token is not set', async () => {
    const other = await buildServer(ctx, { plugins: [metricsPlugin({ env: {} })] });
    try {
      const res = await other.inject({ url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ code: 'TOCSIN_ERR_METRICS_DISABLED', error: expect.stringContaining('TOCSIN_METRICS_TOKEN') });
    } finally {
      await other.close();
    }
  });

  it('keeps Bull Board behind a console session or the admin token, read-only and same-origin only', async () => {
    const anonymous = await fetch(`${base}/admin/queues`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBeNull();
    expect(await anonymous.json()).toMatchObject({ code: 'TOCSIN_ERR_UNAUTHORIZED' });
    expect((await fetch(`${base}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(401);

    const page = await fetch(`${base}/admin/queues`, { headers: { authorization: `Basic ${Buffer.from(`staff:${ADMIN_TOKEN}`).toString('base64')}` } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);

    const api = await fetch(`${base}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(api.status).toBe(200);
    const body = (await api.json()) as { queues: Array<{ name: string; readOnlyMode: boolean }> };
    expect(body.queues.map((q) => q.name).sort()).toEqual(['account-partner-hook', 'email', 'publish', 'schedule']);
    expect(body.queues.every((q) => q.readOnlyMode)).toBe(true);

    // A browser carrying Basic credentials from another site's page is refused before anything runs.
    const crossSite = await fetch(`${base}/admin/queues/api/queues/email/pause`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    });
    expect(crossSite.status).toBe(403);
    // Same origin but read-only: Bull Board itself refuses to pause the queue.
    const pause = await fetch(`${base}/admin/queues/api/queues/email/pause`, { method: 'PUT', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(pause.status).toBe(405);
    expect(await pause.json()).toMatchObject({ error: { key: 'ERRORS.QUEUE_READ_ONLY' } });
    expect(await ctx.queues.get('email').isPaused()).toBe(false);
  });

  it('can take another login (the console session) beside the admin token', async () => {
    // Stands in for the console's session guard: throws 401/403 to refuse, as hooks must.
    const sessionGuard = async (request: { headers: Record<string, unknown> }) => {
      if (request.headers['x-test-session'] !== 'publisher') throw errors.FORBIDDEN('this needs the viewer role');
    };
    const board = Fastify();
    await mountBullBoard(board, ctx, ['email'], anyAuth(sessionGuard, adminTokenAuth(ADMIN_TOKEN, { challenge: false })));
    try {
      const refused = await board.inject({ url: '/admin/queues/api/queues' });
      expect(refused.statusCode).toBe(403);
      expect(refused.headers['www-authenticate']).toBeUndefined();
      expect((await board.inject({ url: '/admin/queues/api/queues', headers: { 'x-test-session': 'publisher' } })).statusCode).toBe(200);
      expect((await board.inject({ url: '/admin/queues/api/queues', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).statusCode).toBe(200);
    } finally {
      await board.close();
    }
  });

  it('serves a stale subscriber count at once and refreshes it behind the scrape', async () => {
    const withCache = (ms: number) => ({ ...ctx, config: { ...ctx.config, metrics: { ...ctx.config.metrics, subscriberCountCacheMs: ms } } }) as Context;
    const cached = cachedSubscriberCounts(withCache(3_600_000));
    const first = await cached();
    await seedSubscribers(ctx, 1, undefined, () => 'late-joiner@example.org');
    expect(await cached()).toBe(first); // within the cache period: the same count, no new scan

    const stale = cachedSubscriberCounts(withCache(1));
    const old = await stale();
    await seedSubscribers(ctx, 1, undefined, () => 'later-joiner@example.org');
    await waitFor(async () => (await stale()).counts.confirmed === old.counts.confirmed + 1, 'the refreshed count');
  });
});
