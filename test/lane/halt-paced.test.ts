import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testContext, dropPrefix, waitFor } from '../helpers/context.js';
import { TestSmtpServer } from '../helpers/smtp.js';
import { seedSubscribers, storeAlert } from '../helpers/fixtures.js';
import { startWorkers, type RunningWorkers } from '../../workers/run.js';
import { publishAlert } from '../../src/publish/publish.js';
import { haltAlert, resumeAlert } from '../../src/publish/halt.js';
import { alertStatus } from '../../src/publish/status.js';
import type { Context } from '../../src/context.js';

// A halt while the fan-out is paced (email.fanOutAhead smaller than the list): what was in flight
// still arrives, the fan-out records the recipients it had not reached as skipped (so the halt's
// counts cover all 10,000), and the resume queues them again, so everyone gets the alert exactly once.

const IN_FLIGHT = 2 * 10;

describe('a halt and a resume in the middle of a paced fan-out', () => {
  let ctx: Context;
  let smtp: TestSmtpServer;
  let workers: RunningWorkers;

  beforeAll(async () => {
    smtp = await new TestSmtpServer({ keepBodies: false }).start();
    smtp.behaviour.dataDelayMs = 3;
    ctx = await testContext('halt-paced', { email: { smtpUrl: smtp.url, batchSize: 500, concurrency: 2, sendConcurrency: 10, fanOutAhead: 2000 } });
    workers = startWorkers(ctx, new Map());
  });
  afterAll(async () => {
    await workers.close();
    await dropPrefix(ctx);
    await ctx.close();
    await smtp.stop();
  });

  const settled = (alertId: string, what: string) =>
    waitFor(
      async () => {
        const r = await alertStatus(ctx, alertId);
        const c = r.counts.totals;
        return c.queued + c.sending + c.retrying === 0 && r.complete ? r : undefined;
      },
      what,
      240_000,
    );

  it('sends the rest exactly once after the resume', async () => {
    await seedSubscribers(
      ctx,
      10_000,
      () => ({ countries: ['SS'], minLevel: 'all' }),
      (i) => `paced${i}@example.org`,
    );
    const alert = await storeAlert(ctx, { countries: ['SS'], level: 'warning', image: undefined });
    await publishAlert(ctx, alert.id);
    await waitFor(async () => ((await ctx.ledger.counts(alert.id)).channels.email?.sent ?? 0) >= 1000, 'some mail to be sent', 120_000, 5);
    const halted = await haltAlert(ctx, alert.id, 'Test Person', 'paused');
    expect(halted.outcome).toBe('halted');
    const atHalt = smtp.received.length;
    const report = await settled(alert.id, 'nothing left queued or sending');
    const email = report.counts.channels.email;
    console.log(
      `paced halt: ${atHalt} sent at the halt, ${smtp.received.length - atHalt} after; ledger ${email.sent} sent + ${email.skipped} skipped of 10,000`,
    );
    expect(smtp.received.length - atHalt).toBeLessThanOrEqual(IN_FLIGHT);
    expect(email.sent).toBe(smtp.received.length);
    // Paced: the fan-out had not reached everyone at the halt, yet every recipient is in the ledger.
    expect(email.sent + email.skipped).toBe(10_000);

    await resumeAlert(ctx, alert.id, 'Test Person');
    const done = await settled(alert.id, 'the rest to be sent');
    expect(done.counts.channels.email).toMatchObject({ sent: 10_000, skipped: 0, failed: 0 });
    expect(done.alert.status).toBe('published');
    const recipients = smtp.recipients();
    expect(recipients).toHaveLength(10_000);
    expect(new Set(recipients).size).toBe(10_000);
  }, 400_000);
});
