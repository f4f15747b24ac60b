import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { testContext, dropPrefix, waitFor } from '../helpers/context.js';
import { TestSmtpServer } from '../helpers/smtp.js';
import { seedSubscribers, storeAlert } from '../helpers/fixtures.js';
import { startWorkers, type RunningWorkers } from '../../workers/run.js';
import { createAccountChannels } from '../../src/channels/accounts.js';
import { publishAlert } from '../../src/publish/publish.js';
import { retractAlert } from '../../src/publish/follow-up.js';
import { alertStatus } from '../../src/publish/status.js';
import type { Context } from '../../src/context.js';
import { FakeX } from '../fakes/x.js';
import { FakeMastodon } from '../fakes/mastodon.js';
import { BSKY_HANDLE, FakeBluesky } from '../fakes/bluesky.js';
import { FakeFacebook, PAGE_ID } from '../fakes/facebook.js';
import { FakeTelegram } from '../fakes/telegram.js';

// Issue 9: a retraction is a delivery like the alert itself, on every channel, threaded to the
// original: every recipient who got the alert gets one "Retraction:" mail that replies to it, each
// account one reply to the right post, every webhook `alert.retracted`; and asking again sends nothing.

const X_KEYS = { appKey: 'app-key-1', appSecret: 'app-secret-1', accessToken: '1490000000000000001-token', accessSecret: 'access-secret-1' };
const header = (raw: Buffer, name: string) => new RegExp(`^${name}: (.+)$`, 'im').exec(raw.toString('utf8'))?.[1]?.trim();

describe('retracting an alert sent to 2,000 subscribers and every kind of account', () => {
  let ctx: Context;
  let smtp: TestSmtpServer;
  let workers: RunningWorkers;
  let x: FakeX;
  let mastodon: FakeMastodon;
  let bluesky: FakeBluesky;
  let facebook: FakeFacebook;
  let telegram: FakeTelegram;
  let receiver: FastifyInstance;
  const hooks: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    smtp = await new TestSmtpServer().start();
    x = Object.assign(await new FakeX().start(), { oauth1: X_KEYS });
    [mastodon, bluesky, facebook, telegram] = await Promise.all([
      new FakeMastodon().start(),
      new FakeBluesky().start(),
      new FakeFacebook().start(),
      new FakeTelegram().start(),
    ]);
    receiver = Fastify();
    receiver.post('/hook', async (request) => {
      hooks.push(request.body as Record<string, unknown>);
      return { ok: true };
    });
    const hookUrl = await receiver.listen({ port: 0, host: '127.0.0.1' });
    const t = { timeoutMs: 3000 };
    ctx = await testContext('retract', {
      email: { smtpUrl: smtp.url, batchSize: 250 },
      webhooks: [{ id: 'partners', url: `${hookUrl}/hook` }],
      social: [
        { id: 'x-main', provider: 'x', baseUrl: x.url, credentialsEnv: { appKey: 'XK', appSecret: 'XS', accessToken: 'XT', accessSecret: 'XA' }, options: t },
        { id: 'masto', provider: 'mastodon', baseUrl: mastodon.url, credentialsEnv: { accessToken: 'MT' }, options: t },
        { id: 'bsky', provider: 'bluesky', baseUrl: bluesky.url, credentialsEnv: { identifier: 'BI', password: 'BP' }, options: t },
        { id: 'fb', provider: 'facebook', baseUrl: facebook.url, credentialsEnv: { pageAccessToken: 'FB' }, options: { ...t, pageId: PAGE_ID } },
        { id: 'tg', provider: 'telegram', baseUrl: telegram.url, credentialsEnv: { botToken: 'TG' }, options: { ...t, chatId: '@tocsin_test' } },
      ],
    });
    const env = {
      XK: X_KEYS.appKey,
      XS: X_KEYS.appSecret,
      XT: X_KEYS.accessToken,
      XA: X_KEYS.accessSecret,
      MT: mastodon.token,
      BI: BSKY_HANDLE,
      BP: bluesky.password,
      FB: facebook.pageToken,
      TG: telegram.token,
    };
    workers = startWorkers(ctx, await createAccountChannels(ctx, env));
  });
  afterAll(async () => {
    await workers.close();
    await dropPrefix(ctx);
    await ctx.close();
    await Promise.all([smtp.stop(), x.close(), mastodon.close(), bluesky.close(), facebook.close(), telegram.close(), receiver.close()]);
  });

  const finished = (alertId: string) =>
    waitFor(
      async () => {
        const r = await alertStatus(ctx, alertId);
        return r.complete ? r : undefined;
      },
      'every delivery to have an outcome',
      120_000,
    );

  it('threads one retraction to each recipient and each account, and a second retract sends nothing', async () => {
    await seedSubscribers(
      ctx,
      2000,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      (i) => `retract${i}@example.org`,
    );
    const alert = await storeAlert(ctx, { image: undefined, level: 'emergency' });
    await publishAlert(ctx, alert.id);
    const published = await finished(alert.id);
    expect(published.counts.totals).toMatchObject({ failed: 0, unknown: 0 });
    expect(published.counts.channels.email.sent).toBe(2000);

    // What each recipient and account got the first time.
    const originalId = new Map(smtp.received.map((m) => [m.to[0], header(m.raw, 'Message-ID')]));
    const lastTweet = x.tweets.at(-1)!;
    const lastStatus = mastodon.statuses.at(-1)!;
    const [firstRecord, lastRecord] = [bluesky.records[0], bluesky.records.at(-1)!];
    const pagePost = facebook.posts[0];
    const lastMessage = telegram.messages.at(-1)!;
    const before = {
      mail: smtp.received.length,
      x: x.tweets.length,
      masto: mastodon.statuses.length,
      bsky: bluesky.records.length,
      tg: telegram.messages.length,
    };

    const retraction = await retractAlert(ctx, alert.id, 'The source was found to be fabricated.', 'tester');
    expect(retraction.outcome).toBe('queued');
    expect(retraction.version.version).toBe(2);
    const report = await finished(alert.id);
    expect(report.alert.status).toBe('retracted');
    expect(report.counts.channels['email@v2']).toMatchObject({ total: 2000, sent: 2000, failed: 0 });
    for (const channel of ['x-main', 'masto', 'bsky', 'fb', 'tg', 'partners'])
      expect(report.counts.channels[`${channel}@v2`], channel).toMatchObject({ sent: 1 });

    // Email: one retraction each, replying to the message that person received.
    const retractions = smtp.received.slice(before.mail);
    expect(retractions).toHaveLength(2000);
    expect(new Set(retractions.map((m) => m.to[0])).size).toBe(2000);
    for (const mail of retractions) {
      const to = mail.to[0];
      expect(header(mail.raw, 'Subject')).toMatch(/^Retraction: /);
      expect(header(mail.raw, 'In-Reply-To')).toBe(originalId.get(to));
      expect(header(mail.raw, 'References')).toContain(originalId.get(to));
      expect(header(mail.raw, 'Message-ID')).not.toBe(originalId.get(to));
    }
    const parsed = await smtp.parse(retractions[0]);
    expect(parsed.text).toContain('The source was found to be fabricated.');

    // Each account: one reply, to the last part of the original thread.
    expect(x.tweets.slice(before.x)).toHaveLength(1);
    expect(x.tweets.at(-1)).toMatchObject({ replyTo: lastTweet.id });
    expect(x.tweets.at(-1)!.text).toMatch(/^Retraction \(/);
    expect(mastodon.statuses.slice(before.masto)).toHaveLength(1);
    expect(mastodon.statuses.at(-1)).toMatchObject({ in_reply_to_id: lastStatus.id });
    expect(bluesky.records.slice(before.bsky)).toHaveLength(1);
    expect(bluesky.records.at(-1)!.value.reply).toMatchObject({ root: { uri: firstRecord.uri }, parent: { uri: lastRecord.uri } });
    expect(facebook.posts).toHaveLength(1);
    expect(pagePost.comments.at(-1)!.message).toMatch(/^Retraction \(/);
    expect(telegram.messages.slice(before.tg)).toHaveLength(1);
    expect(telegram.messages.at(-1)).toMatchObject({ reply_to: lastMessage.message_id });
    const retracted = hooks.find((h) => h.type === 'alert.retracted');
    expect(retracted).toMatchObject({
      id: alert.id,
      version: 2,
      versionId: `${alert.id}.v2`,
      previousVersionId: `${alert.id}.v1`,
      reason: 'The source was found to be fabricated.',
    });

    // Asking again changes nothing and sends nothing.
    const again = await retractAlert(ctx, alert.id, 'The source was found to be fabricated.', 'someone else');
    expect(again.outcome).toBe('already');
    const counts = await ctx.ledger.counts(alert.id);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await ctx.ledger.counts(alert.id)).toEqual(counts);
    expect(smtp.received.length).toBe(before.mail + 2000);
    expect(hooks.filter((h) => h.type === 'alert.retracted')).toHaveLength(1);
  }, 300_000);
});
