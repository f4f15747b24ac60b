import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig, dropPrefix, waitFor } from './helpers/context.js';
import { createContext, type Context } from '../src/context.js';
import { createLogger } from '../src/log.js';
import { TestSmtpServer } from './helpers/smtp.js';
import { seedSubscribers, storeAlert } from './helpers/fixtures.js';
import { cliEnv, startCli, exited } from './helpers/cli.js';
import { publishAlert } from '../src/publish/publish.js';
import { alertStatus } from '../src/publish/status.js';

// Issue 12: a worker frozen (SIGSTOP) for longer than its job lock, while a second worker takes
// its batches over, must not send its in-memory queue again when it wakes: before this fix the
// same scenario produced 387 duplicate emails while the ledger said "sent once" for everyone.

const LOCK_MS = 3000;
const CONCURRENCY = 2;
const SEND_CONCURRENCY = 10;

describe('a worker frozen past its job lock in the middle of a 5,000-recipient send', () => {
  let ctx: Context;
  let smtp: TestSmtpServer;

  beforeAll(async () => {
    smtp = await new TestSmtpServer().start();
    // A relay that takes a moment per message, so the send is still going when the worker freezes.
    smtp.behaviour.dataDelayMs = 20;
    const config = testConfig('fencing', {
      email: { smtpUrl: smtp.url, batchSize: 250, concurrency: CONCURRENCY, sendConcurrency: SEND_CONCURRENCY },
      workers: { lockDurationMs: LOCK_MS, stalledIntervalMs: 1000 },
    });
    ctx = await createContext(config, { log: createLogger('silent') });
  });
  afterAll(async () => {
    await dropPrefix(ctx);
    await ctx.close();
    await smtp.stop();
  });

  it('stops sending on waking: duplicates at most what was already handed to the server, and the ledger and the sink agree', async () => {
    await seedSubscribers(ctx, 5000);
    const alert = await storeAlert(ctx, { level: 'emergency' });
    const env = cliEnv(ctx.config, { LOG_LEVEL: 'warn' });
    const frozen = startCli(['worker', '--queues', 'publish,email'], env);
    const other = startCli(['worker', '--queues', 'email'], env);
    try {
      await publishAlert(ctx, alert.id);
      await waitFor(async () => ((await ctx.ledger.counts(alert.id)).channels.email?.sent ?? 0) >= 1250, 'a quarter of the mail to be sent', 90_000, 5);
      frozen.kill('SIGSTOP');
      const atFreeze = smtp.received.length;
      // Long enough for its locks to expire and for the other worker to take its batches over.
      await waitFor(async () => ((await ctx.ledger.counts(alert.id)).channels.email?.sent ?? 0) >= 4000, 'the other worker to take over', 120_000);
      await new Promise((r) => setTimeout(r, LOCK_MS));
      frozen.kill('SIGCONT');

      const report = await waitFor(
        async () => {
          const r = await alertStatus(ctx, alert.id);
          return r.complete ? r : undefined;
        },
        'every recipient to have an outcome',
        120_000,
      );
      expect(report.counts.channels.email.sent).toBe(5000);
      expect(report.counts.totals.failed + report.counts.totals.unknown).toBe(0);

      // Let the woken worker do whatever it still would, then count what reached the server.
      await new Promise((r) => setTimeout(r, 2 * LOCK_MS));
      const recipients = smtp.recipients();
      const unique = new Set(recipients);
      expect(unique.size).toBe(5000);
      const duplicates = recipients.length - unique.size;
      // At most one message per concurrent sender of the frozen worker was in the server's hands
      // when it froze; everything it still had in memory is dropped on waking.
      const inFlightBound = CONCURRENCY * SEND_CONCURRENCY;
      console.log(`fencing: froze at ${atFreeze} delivered; ${duplicates} duplicate(s) after waking (bound ${inFlightBound})`);
      expect(duplicates).toBeLessThanOrEqual(inFlightBound);
      expect(frozen.output()).toMatch(/lost the lock of a job; stopping its sends|lost the job's lock/);
    } finally {
      frozen.kill('SIGCONT');
      frozen.kill('SIGKILL');
      other.kill('SIGKILL');
      await Promise.all([exited(frozen), exited(other)]);
    }
  }, 300_000);
});
