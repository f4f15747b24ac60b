import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testContext, dropPrefix, waitFor } from '../helpers/context.js';
import { TestSmtpServer, type ReceivedMail } from '../helpers/smtp.js';
import { seedSubscribers, storeAlert } from '../helpers/fixtures.js';
import { startWorkers, type RunningWorkers } from '../../workers/run.js';
import { publishAlert } from '../../src/publish/publish.js';
import { haltAlert, resumeAlert } from '../../src/publish/halt.js';
import { correctAlert } from '../../src/publish/follow-up.js';
import { alertStatus } from '../../src/publish/status.js';
import type { Context } from '../../src/context.js';

// Issue 9: a halt stops an alert in the middle of a large send (only what was in flight still
// arrives), a resume reaches exactly the rest, and a correction during a send halts it first and
// then gives everyone the corrected version exactly once.

const CONCURRENCY = 2;
const SEND_CONCURRENCY = 10;
/** Messages a worker process may have in the SMTP server's hands at once. */
const IN_FLIGHT = CONCURRENCY * SEND_CONCURRENCY;

const header = (mail: ReceivedMail, name: string) => new RegExp(`^${name}: (.+)$`, 'im').exec(mail.raw.toString('utf8'))?.[1]?.trim();

describe('halting, resuming and correcting an alert while it goes out', () => {
  let ctx: Context;
  let smtp: TestSmtpServer;
  let workers: RunningWorkers;

  beforeAll(async () => {
    smtp = await new TestSmtpServer().start();
    // A relay that takes a moment per message, so the send is long enough to stop in the middle.
    smtp.behaviour.dataDelayMs = 3;
    ctx = await testContext('halt', { email: { smtpUrl: smtp.url, batchSize: 500, concurrency: CONCURRENCY, sendConcurrency: SEND_CONCURRENCY } });
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

  it('a halt in the middle of a 20,000-recipient send: only what was in flight arrives after it; a resume reaches exactly the rest', async () => {
    await seedSubscribers(
      ctx,
      20_000,
      () => ({ countries: ['SS'], minLevel: 'all' }),
      (i) => `halt${i}@example.org`,
    );
    const alert = await storeAlert(ctx, { countries: ['SS'], level: 'warning', image: undefined });
    const mine = () => smtp.received.filter((m) => m.to[0].startsWith('halt'));
    await publishAlert(ctx, alert.id);
    await waitFor(async () => ((await ctx.ledger.counts(alert.id)).channels.email?.sent ?? 0) >= 4000, 'a fifth of the mail to be sent', 120_000, 5);

    const halted = await haltAlert(ctx, alert.id, 'Test Person', 'wrong country in the title');
    const atHalt = mine().length;
    expect(halted.outcome).toBe('halted');
    // The fan-out is paced (email.fanOutAhead, 10,000): with about 4,000 sent it cannot have
    // reached all 20,000, so the halt also finds recipients no batch was ever queued for.
    expect((await ctx.publications.get(alert.id)).state).toBe('fanning-out');
    const report = await settled(alert.id, 'nothing left queued or sending');
    const afterHalt = mine().length - atHalt;
    const email = report.counts.channels.email;
    console.log(`halt: ${atHalt} sent before, ${afterHalt} after the halt was accepted (bound ${IN_FLIGHT}); ${email.skipped} skipped`);
    expect(afterHalt).toBeLessThanOrEqual(IN_FLIGHT);
    expect(report.alert.status).toBe('halted');
    // ...and those are in the ledger too: the halt's counts cover the whole audience.
    expect(email.sent + email.skipped).toBe(20_000);
    expect(email.sent).toBe(mine().length);
    const skipped = (await ctx.ledger.targetsInState(alert.id, 'email', 'skipped'))[0];
    expect(await ctx.ledger.get(alert.id, 'email', skipped)).toMatchObject({
      state: 'skipped',
      halted: true,
      error: 'halted by Test Person: wrong country in the title',
    });
    expect(report.warnings).toContain(`halted by Test Person at ${halted.halt.at}: wrong country in the title`);

    const resumed = await resumeAlert(ctx, alert.id, 'Test Person');
    expect(resumed.requeued.email).toBe(email.skipped);
    const done = await settled(alert.id, 'the rest to be sent');
    expect(done.counts.channels.email).toMatchObject({ sent: 20_000, skipped: 0, failed: 0 });
    expect(done.alert.status).toBe('published');
    const recipients = mine().map((m) => m.to[0]);
    expect(recipients).toHaveLength(20_000);
    expect(new Set(recipients).size).toBe(20_000);
  }, 600_000);

  it('a correction during a send: nobody gets the original after it, everybody gets the corrected version exactly once', async () => {
    await seedSubscribers(
      ctx,
      3000,
      () => ({ countries: ['ER'], minLevel: 'all' }),
      (i) => `fix${i}@example.org`,
    );
    const alert = await storeAlert(ctx, { countries: ['ER'], level: 'warning', image: undefined, title: 'Genocide Warning: Eritrea, August 2021' });
    const mine = () => smtp.received.filter((m) => m.to[0].startsWith('fix'));
    await publishAlert(ctx, alert.id);
    await waitFor(async () => ((await ctx.ledger.counts(alert.id)).channels.email?.sent ?? 0) >= 800, 'some of the mail to be sent', 120_000, 5);

    const { status: _s, id: _i, slug: _slug, createdAt: _c, updatedAt: _u, ...fields } = alert;
    const corrected = await correctAlert(
      ctx,
      alert.id,
      { ...fields, title: 'Genocide Warning: Eritrea, January 2022' },
      'The month was wrong: January 2022.',
      'Test Person',
    );
    expect(corrected.outcome).toBe('queued');
    const atCorrection = mine().length;
    const report = await settled(alert.id, 'the corrected version to reach everyone');
    expect(report.alert.status).toBe('corrected');

    const originals = mine().filter((m) => !/\.v2\./.test(header(m, 'Message-ID') ?? ''));
    const corrections = mine().filter((m) => /\.v2\./.test(header(m, 'Message-ID') ?? ''));
    const originalsAfter =
      originals.length -
      mine()
        .slice(0, atCorrection)
        .filter((m) => !/\.v2\./.test(header(m, 'Message-ID') ?? '')).length;
    console.log(
      `correction: ${atCorrection} originals before it, ${originalsAfter} in flight after it (bound ${IN_FLIGHT}); ${corrections.length} corrected versions`,
    );
    expect(originalsAfter).toBeLessThanOrEqual(IN_FLIGHT);
    // Everyone gets version 2 exactly once, and nobody gets the original twice.
    expect(corrections).toHaveLength(3000);
    expect(new Set(corrections.map((m) => m.to[0])).size).toBe(3000);
    expect(new Set(originals.map((m) => m.to[0])).size).toBe(originals.length);
    // Those who had the original get "Correction:", threaded to it; the others the corrected alert whole.
    const hadOriginal = new Map(originals.map((m) => [m.to[0], header(m, 'Message-ID')]));
    for (const mail of corrections) {
      const original = hadOriginal.get(mail.to[0]);
      if (original && header(mail, 'In-Reply-To')) {
        expect(header(mail, 'In-Reply-To')).toBe(original);
        expect(header(mail, 'Subject')).toMatch(/^Correction: Genocide Warning: Eritrea, January 2022/);
      } else {
        expect(header(mail, 'In-Reply-To')).toBeUndefined();
        expect(header(mail, 'Subject')).toBe('Genocide Warning: Eritrea, January 2022');
      }
    }
    const threaded = corrections.filter((m) => header(m, 'In-Reply-To')).length;
    expect(threaded).toBeGreaterThanOrEqual(originals.length - IN_FLIGHT);
    expect(report.counts.channels['email@v2']).toMatchObject({ sent: 3000, failed: 0 });
  }, 600_000);

  it('a correction that is going out can be halted in its turn, and a resume sends only it, never the superseded original', async () => {
    await seedSubscribers(
      ctx,
      2000,
      () => ({ countries: ['YE'], minLevel: 'all' }),
      (i) => `turn${i}@example.org`,
    );
    const alert = await storeAlert(ctx, { countries: ['YE'], level: 'warning', image: undefined });
    const mine = () => smtp.received.filter((m) => m.to[0].startsWith('turn'));
    await publishAlert(ctx, alert.id);
    await waitFor(async () => ((await ctx.ledger.counts(alert.id)).channels.email?.sent ?? 0) >= 300, 'some of the original to be sent', 120_000, 5);
    await haltAlert(ctx, alert.id, 'Test Person', 'wrong figures');
    const { status: _s, id: _i, slug: _slug, createdAt: _c, updatedAt: _u, ...fields } = alert;
    await correctAlert(ctx, alert.id, { ...fields, summary: `${alert.summary} (figures corrected)` }, 'The figures were wrong.', 'Test Person');
    // The original stays halted: resuming it now would send superseded text.
    await expect(resumeAlert(ctx, alert.id, 'Test Person')).rejects.toMatchObject({ code: 'TOCSIN_ERR_ALERT_NOT_HALTED' });

    await waitFor(async () => ((await ctx.ledger.counts(alert.id)).channels['email@v2']?.sent ?? 0) >= 300, 'some of the correction to be sent', 120_000, 5);
    const second = await haltAlert(ctx, alert.id, 'Test Person', 'the correction needs another look');
    expect(second.outcome).toBe('halted');
    expect(second.skipped['email@v2']).toBeGreaterThan(0);
    await settled(alert.id, 'the correction to stop');

    await resumeAlert(ctx, alert.id, 'Test Person');
    const done = await settled(alert.id, 'the rest of the correction to go out');
    const v1 = done.counts.channels.email;
    expect(done.counts.channels['email@v2']).toMatchObject({ sent: 2000, skipped: 0 });
    // The original's halted deliveries stay skipped; nobody gets it after the halt.
    expect(v1.sent + v1.skipped).toBe(2000);
    const originals = mine().filter((m) => !/\.v2\./.test(header(m, 'Message-ID') ?? ''));
    expect(originals).toHaveLength(v1.sent);
    const corrections = mine().filter((m) => /\.v2\./.test(header(m, 'Message-ID') ?? ''));
    expect(new Set(corrections.map((m) => m.to[0])).size).toBe(2000);
    expect(corrections).toHaveLength(2000);
  }, 600_000);
});
