import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testContext, dropPrefix, waitFor } from './helpers/context.js';
import { TestSmtpServer } from './helpers/smtp.js';
import { seedSubscribers, storeAlert } from './helpers/fixtures.js';
import { startWorkers, type RunningWorkers } from '../workers/run.js';
import { publishAlert } from '../src/publish/publish.js';
import { alertStatus } from '../src/publish/status.js';
import { retryFailed } from '../src/publish/retry.js';
import type { Context } from '../src/context.js';

async function complete(ctx: Context, alertId: string, timeoutMs = 60_000) {
  return waitFor(
    async () => {
      const r = await alertStatus(ctx, alertId);
      return r.complete ? r : undefined;
    },
    'every delivery to have an outcome',
    timeoutMs,
  );
}

describe('email delivery when the SMTP server misbehaves', () => {
  let ctx: Context;
  let smtp: TestSmtpServer;
  let workers: RunningWorkers;

  beforeAll(async () => {
    smtp = await new TestSmtpServer().start();
    ctx = await testContext('email-failures', { email: { smtpUrl: smtp.url, batchSize: 50 } });
    workers = startWorkers(ctx, new Map());
  });
  afterAll(async () => {
    await workers.close();
    await dropPrefix(ctx);
    await ctx.close();
    await smtp.stop();
  });

  it('delivers everything once a server that was down comes back, and marks nothing failed', async () => {
    await seedSubscribers(
      ctx,
      200,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      (i) => `outage${i}@example.org`,
    );
    await smtp.stop();
    const alert = await storeAlert(ctx);
    await publishAlert(ctx, alert.id);

    // While the server is down nothing is sent and nothing fails: the recipients tried wait in
    // `retrying` with the reason and a retry time, and after five connection failures in a row the
    // circuit breaker pauses the whole email queue, says so on the health page, and holds the rest.
    const paused = await waitFor(async () => {
      const health = await ctx.health.get('email');
      return health.pausedUntil ? health : undefined;
    }, 'the circuit breaker to pause email');
    expect(paused.pauseReason).toMatch(/5 SMTP connection failures in a row \(.*(ECONNREFUSED|ECONNECTION)/);
    expect(paused.consecutiveFailures).toBeGreaterThanOrEqual(5);
    const waiting = await alertStatus(ctx, alert.id);
    expect(waiting.counts.channels.email.failed).toBe(0);
    expect(waiting.counts.channels.email.sent).toBe(0);
    expect(waiting.counts.channels.email.retrying).toBeGreaterThanOrEqual(5);
    const retrying = (await ctx.ledger.targetsInState(alert.id, 'email', 'retrying'))[0];
    const entry = await ctx.ledger.get(alert.id, 'email', retrying);
    expect(entry?.error).toMatch(/ECONNREFUSED|ECONNECTION|email paused/);
    expect(entry?.retryAt).toBeGreaterThan(Date.now() - 5000);
    await smtp.restart();
    const report = await complete(ctx, alert.id);
    expect(report.counts.channels.email.sent).toBe(200);
    expect(report.counts.channels.email.failed).toBe(0);
    expect(new Set(smtp.recipients().filter((r) => r.startsWith('outage'))).size).toBe(200);
    expect((await ctx.ledger.get(alert.id, 'email', retrying))?.attempts).toBeGreaterThan(1);
    // Mail flows again: the pause is over and the health page shows a success.
    const health = await ctx.health.get('email');
    expect(health.pausedUntil).toBeUndefined();
    expect(health.lastSuccessAt).toBeDefined();
  });

  it('records a 550 rejection as failed with the reply, delivers everyone else, and retries only the failed one', async () => {
    await seedSubscribers(
      ctx,
      100,
      () => ({ countries: ['SD'], minLevel: 'all' }),
      (i) => `sudan${i}@example.org`,
    );
    smtp.behaviour.rejectRecipient = (address) =>
      address === 'sudan7@example.org' ? { code: 550, message: '5.7.1 <sudan7@example.org>: message refused by local policy' } : undefined;
    const before = smtp.received.length;
    const alert = await storeAlert(ctx, { countries: ['SD'], level: 'warning' });
    await publishAlert(ctx, alert.id);
    const report = await complete(ctx, alert.id);

    expect(report.alert.status).toBe('published');
    expect(report.counts.channels.email.sent).toBe(99);
    expect(report.counts.channels.email.failed).toBe(1);
    expect(report.problems).toHaveLength(1);
    // The server's reply is kept, but never the address it quotes.
    expect(report.problems[0].error).toBe('550 5.7.1 <su***@ex***.org>: message refused by local policy');
    expect(report.problems[0].target).toBe('su***@ex***.org');
    expect(smtp.received.length - before).toBe(99);

    smtp.behaviour.rejectRecipient = undefined;
    const retry = await retryFailed(ctx, alert.id);
    expect(retry.requeued).toEqual({ email: 1 });
    const after = await complete(ctx, alert.id);
    expect(after.counts.channels.email.sent).toBe(100);
    expect(after.counts.channels.email.failed).toBe(0);
    expect(smtp.received.length - before).toBe(100);
    expect(smtp.received.at(-1)?.to).toEqual(['sudan7@example.org']);
  });

  it('a "no such user" reply is a hard bounce: the address is suppressed and never mailed again', async () => {
    const [gone] = await seedSubscribers(
      ctx,
      1,
      () => ({ countries: ['ER'], minLevel: 'all' }),
      () => 'left-long-ago@example.org',
    );
    await seedSubscribers(
      ctx,
      9,
      () => ({ countries: ['ER'], minLevel: 'all' }),
      (i) => `eritrea${i}@example.org`,
    );
    smtp.behaviour.rejectRecipient = (address) =>
      address === 'left-long-ago@example.org' ? { code: 550, message: '5.1.1 <left-long-ago@example.org>: user unknown' } : undefined;
    const offered = () => smtp.rcptAttempts.filter((a) => a === 'left-long-ago@example.org').length;
    const first = await storeAlert(ctx, { countries: ['ER'], level: 'warning' });
    await publishAlert(ctx, first.id);
    const report = await complete(ctx, first.id);
    expect(report.counts.channels.email).toMatchObject({ sent: 9, failed: 1 });
    expect(report.problems[0].error).toBe('550 5.1.1 <le***@ex***.org>: user unknown');
    expect((await ctx.subscribers.get(gone))?.status).toBe('bounced');

    // The next alert does not even try: the address is no longer a recipient.
    smtp.behaviour.rejectRecipient = undefined;
    const second = await storeAlert(ctx, { countries: ['ER'], level: 'emergency' });
    await publishAlert(ctx, second.id);
    const next = await complete(ctx, second.id);
    expect(next.counts.channels.email.total).toBe(9);
    expect(offered()).toBe(1);
  });

  it('sends nothing to someone who unsubscribed after their batch was queued', async () => {
    const ids = await seedSubscribers(
      ctx,
      5,
      () => ({ countries: ['MM'], minLevel: 'all' }),
      (i) => `myanmar${i}@example.org`,
    );
    await workers.close();
    const alert = await storeAlert(ctx, { countries: ['MM'] });
    await publishAlert(ctx, alert.id);
    // Fan out with only the publish worker, so the batch is queued but not sent.
    const publishOnly = startWorkers(ctx, new Map(), { queues: ['publish'] });
    await waitFor(async () => (await ctx.publications.get(alert.id)).state === 'fanned-out', 'fan-out');
    await publishOnly.close();
    await ctx.subscribers.update(ids[2], { status: 'unsubscribed' });
    workers = startWorkers(ctx, new Map());
    const report = await complete(ctx, alert.id);
    expect(report.counts.channels.email.sent).toBe(4);
    expect(report.counts.channels.email.skipped).toBe(1);
    expect(smtp.recipients()).not.toContain('myanmar2@example.org');
  });
});
