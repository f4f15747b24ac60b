import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig, dropPrefix, waitFor } from './helpers/context.js';
import { createContext, type Context } from '../src/context.js';
import { createLogger } from '../src/log.js';
import { TestSmtpServer } from './helpers/smtp.js';
import { seedSubscribers, storeAlert } from './helpers/fixtures.js';
import { cliEnv, startCli, exited, killTree } from './helpers/cli.js';
import { killAllStarted } from './helpers/cli.js';
import { publishAlert } from '../src/publish/publish.js';
import { alertStatus } from '../src/publish/status.js';
import { redisBackends } from './helpers/redis-topology.js';

// The same flow on the suite's single Redis and on a real 3-master Redis Cluster.
describe.each(redisBackends())('a worker killed with SIGKILL halfway through a 5,000-recipient fan-out (Redis: $name)', (backend) => {
  let ctx: Context;
  let smtp: TestSmtpServer;

  beforeAll(async () => {
    const redis = await backend.start();
    smtp = await new TestSmtpServer().start();
    const config = testConfig('crash', { redis, email: { smtpUrl: smtp.url, batchSize: 200, concurrency: 2, sendConcurrency: 10 } });
    ctx = await createContext(config, { log: createLogger('silent') });
  });
  afterAll(async () => {
    killAllStarted();
    await dropPrefix(ctx);
    await ctx.close();
    await smtp.stop();
    await backend.stop();
  });

  it('ends with every recipient sent, none missing, and duplicates bounded by what was in flight', async () => {
    const ids = await seedSubscribers(ctx, 5000);
    const alert = await storeAlert(ctx, { level: 'emergency' });
    const env = cliEnv(ctx.config, { LOG_LEVEL: 'warn' });

    const first = startCli(['worker'], env);
    await publishAlert(ctx, alert.id);
    await waitFor(async () => smtp.received.length >= 2500, 'half of the mail to arrive', 60_000, 5);
    killTree(first, 'SIGKILL');
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
      killTree(second, 'SIGTERM');
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

    // Every message, first copy or duplicate, carries the Message-ID fixed by alert and recipient
    // (<alert.ALERT.SUBSCRIBER@domain of MAIL_FROM>), so a mail system can drop a second copy.
    const subscriberOf = new Map(ids.map((id, i) => [`reader${i}@example.org`, id]));
    const messageIds = smtp.received.map((mail) => [mail.to[0], /^Message-ID: (.+)$/im.exec(mail.raw.toString('utf8'))?.[1]?.trim()]);
    expect(messageIds).toHaveLength(5000 + duplicates);
    for (const [to, messageId] of messageIds) expect(messageId, to).toBe(`<alert.${alert.id}.${subscriberOf.get(to!)}@localhost>`);
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
    const sent = async () => (await alertStatus(ctx, alert.id)).counts.channels.email?.sent ?? 0;
    // The SMTP server holds the second half's messages, so SIGTERM surely lands with sends in flight.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    smtp.behaviour.holdData = (to) => (Number(/^southsudan(\d+)@/.exec(to[0])?.[1] ?? -1) >= 1500 ? gate : undefined);
    const env = cliEnv(ctx.config, { LOG_LEVEL: 'info' });
    const first = startCli(['worker'], env);
    try {
      await publishAlert(ctx, alert.id);
      // Some but not all sent (the ledger says so), and messages in flight at the SMTP server.
      await waitFor(async () => (await sent()) >= 1000 && smtp.held > 0, 'a third sent and sends in flight', 60_000);
      const inFlight = await ctx.ledger.targetsInState(alert.id, 'email', 'sending');
      expect(inFlight.length).toBeGreaterThan(0);
      killTree(first, 'SIGTERM');
      await waitFor(async () => /stopping: finishing jobs in flight/.test(first.output()), 'the worker to start stopping');
      release();
      expect(await exited(first)).toBe(0);

      // The jobs in flight were finished, not dropped: what was being sent is now sent, nothing
      // is left `sending`, and the rest waits for the next worker.
      const stopped = await alertStatus(ctx, alert.id);
      expect(stopped.counts.channels.email.sending).toBe(0);
      expect(stopped.counts.channels.email.sent).toBeLessThan(3000);
      const afterStop = await ctx.ledger.getMany(alert.id, 'email', inFlight);
      expect(afterStop.map((e) => e?.state)).toEqual(inFlight.map(() => 'sent'));
    } finally {
      release();
      smtp.behaviour.holdData = undefined;
      if (first.exitCode === null) killTree(first, 'SIGKILL');
    }

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
      killTree(second, 'SIGTERM');
      await exited(second);
    }
    const mine = smtp.recipients().filter((r) => r.startsWith('southsudan'));
    expect(smtp.received.length - before).toBe(3000);
    expect(mine.length).toBe(3000);
    expect(new Set(mine).size).toBe(3000);
  }, 240_000);
});
