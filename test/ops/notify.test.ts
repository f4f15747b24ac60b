import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testContext, testConfig, dropPrefix, waitFor } from '../helpers/context.js';
import { TestSmtpServer } from '../helpers/smtp.js';
import { seedSubscribers, storeAlert } from '../helpers/fixtures.js';
import { startWorkers, type RunningWorkers } from '../../workers/run.js';
import { buildAccounts } from '../../src/channels/accounts.js';
import { verifySignature } from '../../src/channels/webhook.js';
import { publishAlert } from '../../src/publish/publish.js';
import { alertStatus } from '../../src/publish/status.js';
import { NOTIFY_GROUP } from '../../src/notify/notifier.js';
import type { AlertPublishedNotice, ChannelFailingNotice } from '../../src/notify/payload.js';
import type { Context } from '../../src/context.js';
import { Receiver, type Received } from './receiver.js';

const SECRET_ENV = 'TOCSIN_TEST_NOTIFY_SECRET';
const SECRET = 'status-webhook-secret-for-tests-0123';
const SLACK_URL_ENV = 'TOCSIN_TEST_SLACK_STATUS_URL';

describe('status webhooks', () => {
  let ctx: Context;
  let smtp: TestSmtpServer;
  let receiver: Receiver;
  const running: RunningWorkers[] = [];
  let statusCalls = 0;

  beforeAll(async () => {
    process.env[SECRET_ENV] = SECRET;
    smtp = await new TestSmtpServer().start();
    receiver = await new Receiver().start();
    process.env[SLACK_URL_ENV] = `${receiver.url}/slack`;
    receiver.statusFor = (path) => {
      if (path === '/partner') return 400; // the account channel is rejected: it starts failing
      if (path === '/status' && statusCalls++ === 0) return 503; // the first notification is refused once
      return 200;
    };
    ctx = await testContext('ops-notify', {
      email: { smtpUrl: smtp.url, batchSize: 10 },
      webhooks: [{ id: 'partner-hook', url: `${receiver.url}/partner` }],
      retry: { maxAttempts: 1 },
      notify: {
        failingAfter: 1,
        retryAfterMs: 200,
        targets: [
          { url: `${receiver.url}/status`, secretEnv: SECRET_ENV },
          // A Slack webhook URL is a secret, so it comes from the environment.
          { urlEnv: SLACK_URL_ENV, format: 'slack', events: ['alert.published'] },
        ],
      },
    });
    // Two worker processes' worth: the consumer group must make exactly one send each notice.
    for (let i = 0; i < 2; i++) running.push(startWorkers(ctx, await buildAccounts(ctx.config, ctx.providers, {})));
    await waitFor(async () => {
      const groups = (await ctx.redis.xinfo('GROUPS', ctx.keys.activity())) as unknown[][];
      return groups.some((g) => g[1] === NOTIFY_GROUP);
    }, 'the notification consumer group');
  });
  afterAll(async () => {
    for (const w of running) await w.close();
    await dropPrefix(ctx);
    await ctx.close();
    await smtp.stop();
    await receiver.stop();
    delete process.env[SECRET_ENV];
    delete process.env[SLACK_URL_ENV];
  });

  const accepted = (path: string, type: string): Received[] => {
    // Requests answered 2xx; the receiver answers /status with 503 exactly once, to the first.
    const all = receiver.on(path).filter((r) => r.headers['tocsin-event'] === type);
    return path === '/status' ? all.filter((r) => r !== receiver.on('/status')[0]) : all;
  };

  it('sends one signed notice when an alert finishes publishing and one when a channel starts failing, retrying a refused one', async () => {
    await seedSubscribers(ctx, 25, () => ({ countries: ['KZ'], minLevel: 'all' }));
    smtp.behaviour.rejectRecipient = (a) => (a === 'reader3@example.org' ? { code: 550, message: '5.1.1 mailbox unavailable' } : undefined);
    const alert = await storeAlert(ctx, { level: 'emergency' });
    await publishAlert(ctx, alert.id);

    await waitFor(
      async () =>
        accepted('/status', 'alert.published').length === 1 &&
        accepted('/status', 'channel.failing').length === 1 &&
        accepted('/slack', 'alert.published').length === 1,
      'the status notifications',
    );
    // Everything read and acknowledged: nothing more can be sent, so the counts below are final.
    await waitFor(async () => {
      const groups = (await ctx.redis.xinfo('GROUPS', ctx.keys.activity())) as unknown[][];
      const group = groups.find((g) => g[1] === NOTIFY_GROUP) as unknown[];
      const field = (name: string) => group[group.indexOf(name) + 1];
      const [[lastId]] = await ctx.redis.xrevrange(ctx.keys.activity(), '+', '-', 'COUNT', 1);
      return field('pending') === 0 && field('last-delivered-id') === lastId;
    }, 'every activity entry to be acknowledged');

    expect(receiver.on('/status')).toHaveLength(3); // one refused, then two accepted
    expect(receiver.on('/slack')).toHaveLength(1);

    const [published] = accepted('/status', 'alert.published');
    const [failing] = accepted('/status', 'channel.failing');
    for (const r of [published, failing, receiver.on('/status')[0]]) {
      expect(verifySignature(SECRET, r.raw, String(r.headers['tocsin-signature']))).toBe(true);
      expect(verifySignature(SECRET, r.raw.replace('}', ' }'), String(r.headers['tocsin-signature']))).toBe(false);
      expect(verifySignature('another-secret-another-secret-00', r.raw, String(r.headers['tocsin-signature']))).toBe(false);
    }
    // The refused request was tried again with the same idempotency key.
    expect(receiver.on('/status')[0].headers['idempotency-key']).toMatch(/^tocsin-notify-\d+-\d+$/);
    expect(receiver.on('/status').filter((r) => r.headers['idempotency-key'] === receiver.on('/status')[0].headers['idempotency-key'])).toHaveLength(2);

    const report = await alertStatus(ctx, alert.id);
    const notice = JSON.parse(published.raw) as AlertPublishedNotice;
    expect(notice).toMatchObject({
      type: 'alert.published',
      alert: { id: alert.id, slug: alert.slug, title: alert.title, level: 'emergency', status: 'published' },
      summary: { total: 26, sent: 24, failed: 2, unknown: 0, skipped: 0 },
      channels: {
        email: { total: 25, sent: 24, failed: 1, unknown: 0, skipped: 0 },
        'partner-hook': { total: 1, sent: 0, failed: 1, unknown: 0, skipped: 0 },
      },
    });
    expect(notice.summary).toEqual({
      total: report.counts.totals.total,
      sent: report.counts.totals.sent,
      failed: report.counts.totals.failed,
      unknown: report.counts.totals.unknown,
      skipped: report.counts.totals.skipped,
    });
    expect(notice.publication.durationSeconds).toBeCloseTo((Date.parse(report.publication.finishedAt!) - Date.parse(report.publication.startedAt!)) / 1000, 3);
    expect(published.raw).not.toContain('@example.org');

    const failure = JSON.parse(failing.raw) as ChannelFailingNotice;
    expect(failure).toMatchObject({
      type: 'channel.failing',
      channel: 'partner-hook',
      consecutiveFailures: 1,
      threshold: 1,
      lastError: expect.stringContaining('HTTP 400'),
    });

    const slack = JSON.parse(receiver.on('/slack')[0].raw) as { text: string };
    expect(slack.text).toContain(`*${alert.title}*`);
    expect(slack.text).toContain('Finished with problems');
    expect(slack.text).toContain('24 sent, 2 failed, 0 unknown, 0 skipped of 26');
    expect(receiver.on('/slack')[0].headers['tocsin-signature']).toBeUndefined();
  });

  it('leaves no consumer behind when the workers stop', async () => {
    for (const w of running.splice(0)) await w.close();
    expect(await ctx.redis.xinfo('CONSUMERS', ctx.keys.activity(), NOTIFY_GROUP)).toEqual([]);
  });

  it('refuses a notify target without exactly one of url and urlEnv, or with an unknown event, naming the field', () => {
    const bad = (target: Record<string, unknown>) => () => testConfig('ops-notify-config', { notify: { targets: [target] } });
    expect(bad({ url: 'https://hooks.example/x', urlEnv: 'SLACK_URL' })).toThrow(/notify\.targets\.0\.url: give either url or urlEnv/);
    expect(bad({ format: 'slack' })).toThrow(/notify\.targets\.0\.url: give either url or urlEnv/);
    expect(bad({ url: 'ftp://hooks.example/x' })).toThrow(/notify\.targets\.0\.url/);
    expect(bad({ url: 'https://hooks.example/x', events: ['alert.deleted'] })).toThrow(/notify\.targets\.0\.events\.0/);
    expect(bad({ url: 'https://hooks.example/x', secretEnv: 'lower-case' })).toThrow(/notify\.targets\.0\.secretEnv: must be an environment variable name/);
  });
});
