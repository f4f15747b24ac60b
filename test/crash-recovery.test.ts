import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig, dropPrefix, waitFor } from './helpers/context.js';
import { createContext, type Context } from '../src/context.js';
import { createLogger } from '../src/log.js';
import { TestSmtpServer } from './helpers/smtp.js';
import { seedSubscribers, storeAlert } from './helpers/fixtures.js';
import { cliEnv, startCli, exited } from './helpers/cli.js';
import { publishAlert } from '../src/publish/publish.js';
import { alertStatus } from '../src/publish/status.js';

describe('a worker killed with SIGKILL halfway through a 5,000-recipient fan-out', () => {
  let ctx: Context;
  let smtp: TestSmtpServer;

  beforeAll(async () => {
    smtp = await new TestSmtpServer().start();
    const config = testConfig('crash', { email: { smtpUrl: smtp.url, batchSize: 200, concurrency: 2, sendConcurrency: 10 } });
    ctx = await createContext(config, { log: createLogger('silent') });
  });
  afterAll(async () => {
    await dropPrefix(ctx);
    await ctx.close();
    await smtp.stop();
  });

  it('ends with every recipient sent, none missing, and duplicates bounded by what was in flight', async () => {
    await seedSubscribers(ctx, 5000);
    const alert = await storeAlert(ctx, { level: 'emergency' });
    const env = cliEnv(ctx.config, { LOG_LEVEL: 'warn' });

    const first = startCli(['worker'], env);
    await publishAlert(ctx, alert.id);
    await waitFor(async () => smtp.received.length >= 2500, 'half of the mail to arrive', 60_000, 5);
    first.kill('SIGKILL');
    await exited(first);
    const atKill = smtp.received.length;
    const midway = await alertStatus(ctx, alert.id);
    expect(midway.complete).toBe(false);

    const second = startCli(['worker'], env);
    try {
      const report = await waitFor(
        async () => {
          const r = await alertStatus(ctx, alert.id);
          return r.complete ? r : undefined;
        },
        'the fan-out to complete after restart',
        90_000,
      );
      expect(report.alert.status).toBe('published');
      expect(report.counts.channels.email.sent).toBe(5000);
      expect(report.counts.totals.failed + report.counts.totals.unknown).toBe(0);
    } finally {
      second.kill('SIGTERM');
      await exited(second);
    }

    const recipients = smtp.recipients();
    const unique = new Set(recipients);
    expect(unique.size).toBe(5000);
    const duplicates = recipients.length - unique.size;
    // Each outcome is recorded right after its send, so what can be lost is at most one message
    // per concurrent sender (sendConcurrency 10) in each of the two batch jobs running at once.
    const inFlightBound = 2 * 10;
    console.log(`crash-recovery: ${atKill} delivered before SIGKILL, ${duplicates} duplicate(s) after restart (bound ${inFlightBound})`);
    expect(duplicates).toBeLessThanOrEqual(inFlightBound);

    // Every duplicate carries the same Message-ID as the first copy, so clients can drop it.
    const ids = new Map<string, string>();
    for (const mail of smtp.received) {
      const id = /^Message-ID: (.+)$/im.exec(mail.raw.toString('utf8'))?.[1]?.trim() ?? '';
      const to = mail.to[0];
      if (ids.has(to)) expect(ids.get(to)).toBe(id);
      ids.set(to, id);
    }
  }, 240_000);

  it('a worker stopped with SIGTERM mid fan-out finishes its jobs in flight: nothing stuck, nothing sent twice', async () => {
    const before = smtp.received.length;
    await seedSubscribers(
      ctx,
      3000,
      () => ({ countries: ['SS'], minLevel: 'all' }),
      (i) => `southsudan${i}@example.org`,
    );
    const alert = await storeAlert(ctx, { countries: ['SS'], level: 'watch' });
    const env = cliEnv(ctx.config, { LOG_LEVEL: 'info' });
    const first = startCli(['worker'], env);
    await publishAlert(ctx, alert.id);
    await waitFor(async () => smtp.received.length - before >= 1000, 'a third of the mail to arrive', 60_000, 5);
    first.kill('SIGTERM');
    expect(await exited(first)).toBe(0);
    expect(first.output()).toMatch(/stopping: finishing jobs in flight/);
    const stopped = await alertStatus(ctx, alert.id);
    expect(stopped.counts.channels.email.sending).toBe(0);

    const second = startCli(['worker'], env);
    try {
      const report = await waitFor(
        async () => {
          const r = await alertStatus(ctx, alert.id);
          return r.complete ? r : undefined;
        },
        'the fan-out to complete after restart',
        90_000,
      );
      expect(report.counts.channels.email.sent).toBe(3000);
    } finally {
      second.kill('SIGTERM');
      await exited(second);
    }
    const mine = smtp.recipients().filter((r) => r.startsWith('southsudan'));
    expect(mine.length).toBe(3000);
    expect(new Set(mine).size).toBe(3000);
  }, 240_000);
});
