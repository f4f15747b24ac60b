import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig, dropPrefix, waitFor } from '../helpers/context.js';
import { createContext, type Context } from '../../src/context.js';
import { createLogger } from '../../src/log.js';
import { TestSmtpServer } from '../helpers/smtp.js';
import { seedSubscribers, storeAlert } from '../helpers/fixtures.js';
import { cliEnv, startCli, exited, killTree, killAllStarted } from '../helpers/cli.js';
import { publishAlert } from '../../src/publish/publish.js';
import { alertStatus } from '../../src/publish/status.js';

// The emergency lane through two real worker processes: an emergency published while a 20,000-
// recipient routine send is under way overtakes it, and nothing is sent twice or lost.

const ROUTINE = 20_000;
const URGENT = 500;

describe('an emergency published during a large routine email send', () => {
  let ctx: Context;
  let smtp: TestSmtpServer;
  let workers: Array<ReturnType<typeof startCli>> = [];

  beforeAll(async () => {
    smtp = await new TestSmtpServer({ keepBodies: false }).start();
    const config = testConfig('lane', { email: { smtpUrl: smtp.url } });
    ctx = await createContext(config, { log: createLogger('silent') });
  });
  afterAll(async () => {
    for (const w of workers) killTree(w, 'SIGKILL');
    await Promise.all(workers.map(exited));
    killAllStarted();
    await dropPrefix(ctx);
    await ctx.close();
    await smtp.stop();
  });

  const urgentMail = (from: number) => smtp.received.slice(from).filter((m) => m.to[0].startsWith('urgent'));
  const routineMail = (from: number) => smtp.received.slice(from).filter((m) => m.to[0].startsWith('routine')).length;
  const complete = async (alertId: string) => (await alertStatus(ctx, alertId)).complete;

  it('every emergency mail arrives while routine mail is still outstanding, and all 20,500 arrive once', async () => {
    await seedSubscribers(
      ctx,
      ROUTINE,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      (i) => `routine${i}@example.org`,
    );
    await seedSubscribers(
      ctx,
      URGENT,
      () => ({ countries: ['SD'], minLevel: 'all' }),
      (i) => `urgent${i}@example.org`,
    );
    const env = cliEnv(ctx.config, { LOG_LEVEL: 'info' });
    workers = [startCli(['worker'], env), startCli(['worker'], env)];
    await waitFor(async () => workers.every((w) => w.output().includes('workers started')), 'both worker processes to start', 60_000);

    // The same emergency, alone: the figure to compare with.
    const alone = await storeAlert(ctx, { countries: ['SD'], level: 'emergency' });
    let from = smtp.received.length;
    let t0 = Date.now();
    await publishAlert(ctx, alone.id);
    await waitFor(async () => urgentMail(from).length >= URGENT, 'the emergency alone to arrive', 120_000);
    const aloneMail = urgentMail(from);
    const aloneFirst = aloneMail[0].at - t0;
    const aloneLast = aloneMail[URGENT - 1].at - t0;
    // The fan-out scans every subscriber in id order; the emergency's 500 are the last ids.
    const aloneFanOut = Date.parse((await ctx.publications.get(alone.id)).fannedOutAt!) - t0;
    await waitFor(() => complete(alone.id), 'the emergency alone to be published', 60_000);

    // A routine send of 20,000, under way, then the emergency.
    const routine = await storeAlert(ctx, { countries: ['KZ'], level: 'watch' });
    const emergency = await storeAlert(ctx, { countries: ['SD'], level: 'emergency' });
    from = smtp.received.length;
    await publishAlert(ctx, routine.id);
    await waitFor(async () => routineMail(from) >= 1000, 'the routine send to be under way', 120_000);
    const routineBefore = routineMail(from);
    t0 = Date.now();
    await publishAlert(ctx, emergency.id);
    await waitFor(async () => urgentMail(from).length >= URGENT, 'the emergency to arrive', 180_000);
    const urgent = urgentMail(from);
    const duringFanOut = Date.parse((await ctx.publications.get(emergency.id)).fannedOutAt!) - t0;
    const lastUrgentAt = urgent[URGENT - 1].at;
    // Routine mail accepted by the time the last emergency mail was.
    const routineByThen = smtp.received.slice(from).filter((m) => m.to[0].startsWith('routine') && m.at <= lastUrgentAt).length;
    const during = { first: urgent[0].at - t0, last: lastUrgentAt - t0 };
    console.log(
      `emergency lane: 500 emergency mails alone: first ${aloneFirst} ms, last ${aloneLast} ms (fan-out done ${aloneFanOut} ms); ` +
        `during a 20,000 watch send (${routineBefore} routine mails out when published): first ${during.first} ms, last ${during.last} ms (fan-out done ${duringFanOut} ms); ` +
        `routine mails out when the last emergency mail arrived: ${routineByThen} of ${ROUTINE}; ` +
        `routine batches that gave way: ${workers.map((w) => w.output().split('gives way to a higher level').length - 1).join(' + ')}`,
    );
    expect(routineByThen).toBeLessThan(ROUTINE);

    await waitFor(() => complete(routine.id), 'the routine send to finish', 600_000, 500);
    const routineDoneAt = Math.max(
      ...smtp.received
        .slice(from)
        .filter((m) => m.to[0].startsWith('routine'))
        .map((m) => m.at),
    );
    expect(lastUrgentAt).toBeLessThan(routineDoneAt);

    // Exactly once: 20,500 messages to 20,500 distinct recipients, and the ledger agrees.
    const recipients = smtp.received.slice(from).flatMap((m) => m.to);
    expect(recipients).toHaveLength(ROUTINE + URGENT);
    expect(new Set(recipients).size).toBe(ROUTINE + URGENT);
    const [r, e] = await Promise.all([alertStatus(ctx, routine.id), alertStatus(ctx, emergency.id)]);
    expect(r.counts.channels.email.sent).toBe(ROUTINE);
    expect(e.counts.channels.email.sent).toBe(URGENT);
    expect(r.counts.totals.failed + r.counts.totals.unknown + e.counts.totals.failed + e.counts.totals.unknown).toBe(0);
  }, 900_000);
});
