import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { testContext, dropPrefix, waitFor } from '../helpers/context.js';
import { TestSmtpServer } from '../helpers/smtp.js';
import { seedSubscribers, storeAlert } from '../helpers/fixtures.js';
import { startWorkers, type RunningWorkers } from '../../workers/run.js';
import { publishAlert } from '../../src/publish/publish.js';
import { alertStatus } from '../../src/publish/status.js';
import { formatRetry, retryAlert } from '../../src/cli/commands/retry.js';
import { watchStatus, progressBar } from '../../src/cli/commands/watch.js';
import { emptyCounts } from '../../src/store/ledger.js';
import type { Context } from '../../src/context.js';
import { runCli, tableRow } from './cli.js';

// Each test: subscribers and a queued publish first, the watcher next, the workers last, so the
// watcher always sees the publish from "waiting" to "complete".

describe('tocsin status --watch and tocsin retry', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function setup(name: string) {
    const smtp = await new TestSmtpServer().start();
    const ctx = await testContext(name, { email: { smtpUrl: smtp.url, batchSize: 20 }, retry: { maxAttempts: 5 } });
    cleanup.push(async () => {
      await dropPrefix(ctx);
      await ctx.close();
      await smtp.stop();
    });
    let workers: RunningWorkers | undefined;
    cleanup.push(async () => workers?.close());
    const startTheWorkers = () => {
      workers = startWorkers(ctx, new Map());
    };
    return { smtp, ctx, startTheWorkers };
  }

  const ledgerRow = async (ctx: Context, alertId: string, channel: string) => {
    const c = (await ctx.ledger.counts(alertId)).channels[channel];
    return {
      total: c.total,
      sent: c.sent,
      failed: c.failed,
      unknown: c.unknown,
      skipped: c.skipped,
      queued: c.queued,
      sending: c.sending,
      retrying: c.retrying,
    };
  };

  it('follows a publish in progress, prints the ledger counts and exits 0 when every delivery has an outcome', async () => {
    const { ctx, smtp, startTheWorkers } = await setup('ops-watch');
    await seedSubscribers(ctx, 60, () => ({ countries: ['KZ'], minLevel: 'all' }));
    const alert = await storeAlert(ctx, { level: 'emergency' });
    await publishAlert(ctx, alert.id);

    const watch = runCli(ctx, ['status', alert.id, '--watch']);
    await waitFor(async () => /waiting for a worker/.test(watch.stdout()), 'the watcher to show the queued publish');
    startTheWorkers();
    const code = await watch.exited;
    expect(watch.stderr()).toBe('');
    expect(code).toBe(0);

    const out = watch.stdout();
    // Not a terminal: one plain line per change, with nothing sent at first and 60 at the end.
    const sentSeen = [...out.matchAll(/email \d+\/\d+ sent=(\d+)/g)].map((m) => Number(m[1]));
    expect(sentSeen.at(-1)).toBe(60);
    expect(sentSeen.every((n, i) => i === 0 || n >= sentSeen[i - 1])).toBe(true);
    expect(out).not.toMatch(/\x1b\[/);
    expect(tableRow(out, 'email')).toEqual(await ledgerRow(ctx, alert.id, 'email'));
    expect(tableRow(out, 'email')).toMatchObject({ total: 60, sent: 60, failed: 0 });
    expect(smtp.recipients().length).toBe(60);
  });

  it('exits 3 when a delivery failed; retry requeues only the failed one, which then arrives', async () => {
    const { ctx, smtp, startTheWorkers } = await setup('ops-retry');
    await seedSubscribers(ctx, 30, () => ({ countries: ['KZ'], minLevel: 'all' }));
    smtp.behaviour.rejectRecipient = (a) => (a === 'reader4@example.org' ? { code: 550, message: '5.7.1 message refused by policy' } : undefined);
    const alert = await storeAlert(ctx, { level: 'emergency' });
    await publishAlert(ctx, alert.id);

    const watch = runCli(ctx, ['status', alert.id, '--watch']);
    await waitFor(async () => watch.stdout().length > 0, 'the watcher to start');
    startTheWorkers();
    expect(await watch.exited).toBe(3);
    expect(tableRow(watch.stdout(), 'email')).toEqual(await ledgerRow(ctx, alert.id, 'email'));
    expect(tableRow(watch.stdout(), 'email')).toMatchObject({ sent: 29, failed: 1 });
    expect(watch.stdout()).toMatch(/failed\s+.*5\.7\.1 message refused by policy/);
    expect(watch.stdout()).not.toContain('reader4@example.org');
    expect(smtp.recipients().length).toBe(29);

    // A channel the alert never used is named in the error, and nothing moves.
    await expect(retryAlert(ctx, alert.id, 'mastodon-main')).rejects.toMatchObject({
      code: 'TOCSIN_ERR_ALERT_CHANNEL_UNKNOWN',
      message: expect.stringContaining('mastodon-main'),
    });

    smtp.behaviour.rejectRecipient = undefined;
    const attemptsBefore = new Map<string, number>();
    for await (const [target, entry] of ctx.ledger.entries(alert.id, 'email')) attemptsBefore.set(target, entry.attempts);

    const retry = runCli(ctx, ['retry', alert.id, '--channel', 'email']);
    expect(await retry.exited).toBe(0);
    expect(retry.stdout()).toMatch(/email\s+1 requeued/);

    const done = await waitFor(async () => {
      const r = await alertStatus(ctx, alert.id);
      return r.complete && r.counts.channels.email.sent === 30 ? r : undefined;
    }, 'the retried delivery to be sent');
    expect(done.counts.channels.email.failed).toBe(0);
    expect(smtp.recipients().length).toBe(30);
    expect(smtp.recipients().filter((r) => r === 'reader4@example.org')).toHaveLength(1);
    // Only the failed recipient was claimed again; every other entry is as it was.
    for await (const [target, entry] of ctx.ledger.entries(alert.id, 'email')) {
      const subscriber = await ctx.subscribers.get(Number(target));
      expect(entry.attempts, subscriber!.email).toBe(
        subscriber!.email === 'reader4@example.org' ? attemptsBefore.get(target)! + 1 : attemptsBefore.get(target),
      );
    }

    // Nothing failed any more: a second retry says so and queues nothing.
    const again = await retryAlert(ctx, alert.id);
    expect(again.result).toEqual({ requeued: {}, jobs: 0 });
    expect(formatRetry(alert.slug, again)).toBe(`Nothing to retry: ${alert.slug} has no failed deliveries.`);
  });

  it('redraws progress bars in place on a terminal', async () => {
    const { ctx, startTheWorkers } = await setup('ops-watch-tty');
    await seedSubscribers(ctx, 40, () => ({ countries: ['KZ'], minLevel: 'all' }));
    const alert = await storeAlert(ctx, { level: 'emergency' });
    await publishAlert(ctx, alert.id);

    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString('utf8')));
    const watching = watchStatus(ctx, alert.id, { out: out as unknown as NodeJS.WriteStream, tty: true, blockMs: 200 });
    await waitFor(async () => /waiting for a worker/.test(text), 'the first frame');
    startTheWorkers();
    expect(await watching).toBe(0);

    expect(text).toMatch(/\x1b\[\d+F/); // later frames move the cursor back up over the earlier one
    expect(text).toContain('\x1b[?25h'); // and the cursor is shown again at the end
    const lastFrame = text.split(/\x1b\[\d+F/).at(-1)!;
    // Written out in full: a full bar of "#", the counts, and nothing else on the line.
    expect(lastFrame).toContain('email            [##############################]         40/40 100%  sent 40  failed 0  unknown 0  skipped 0');
    expect(tableRow(text, 'email')).toEqual(await ledgerRow(ctx, alert.id, 'email'));
  });

  it('draws each outcome with its own character, not colour alone', () => {
    expect(progressBar({ ...emptyCounts(), total: 10, sent: 5, failed: 2, unknown: 1, skipped: 1, queued: 1 }, 10)).toBe('[#####xx?-.]');
    expect(progressBar({ ...emptyCounts(), total: 1000, sent: 999, failed: 1 }, 10)).toBe('[#########x]');
    expect(progressBar({ ...emptyCounts(), total: 3, queued: 3 }, 6)).toBe('[......]');
  });
});
