import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MastodonChannel, mastodonHtmlToText, mastodonLength } from '../../src/channels/social/mastodon.js';
import { FakeMastodon } from '../fakes/mastodon.js';
import { FakeImageHost, PNG_1X1 } from '../fakes/image-host.js';
import {
  alertWithParts,
  deliver,
  deliveryError,
  exampleAlert,
  expectKind,
  expectNothingCut,
  expectWellFormedThread,
  noSignal,
  positionOf,
  postDirectly,
  shortAlert,
  sleep,
  socialAccount,
  testDeps,
} from './helpers.js';

/** The idempotency keys the dispatcher gives parts 0..n-1 of one delivery (test/social/helpers.ts). */
const keysFor = (key: string, n: number) => Array.from({ length: n }, (_, i) => (i === 0 ? key : `${key}-${i}`));

describe('Mastodon adapter against a fake instance', () => {
  let fake: FakeMastodon;
  let images: FakeImageHost;

  beforeAll(async () => {
    images = await new FakeImageHost().start();
  });
  afterAll(async () => {
    await images.close();
  });
  beforeEach(async (ctx) => {
    fake = await new FakeMastodon().start();
    ctx.onTestFinished(() => fake.close());
  });

  const channel = (options: Record<string, unknown> = {}, token = fake.token): MastodonChannel =>
    new MastodonChannel(
      socialAccount({
        id: 'masto',
        provider: 'mastodon',
        baseUrl: fake.url,
        credentialsEnv: { accessToken: 'MASTODON_TOKEN' },
        options: { timeoutMs: 2000, ...options },
      }),
      { MASTODON_TOKEN: token },
      testDeps(),
    );
  const expectChained = () => fake.statuses.forEach((s, i) => expect(s.in_reply_to_id).toBe(i === 0 ? null : fake.statuses[i - 1].id));

  it('counts like Mastodon: every URL is 23, a remote mention only its local part, graphemes', () => {
    expect(mastodonLength('see https://example.org/a/very/long/path/indeed/and/more/and/more')).toBe(4 + 23);
    expect(mastodonLength('hi @alice@example.social')).toBe('hi @alice'.length);
    expect(mastodonLength('👍🏽 ok')).toBe(4);
  });

  it('posts a short alert with visibility, language and the delivery idempotency key', async () => {
    const m = channel({ visibility: 'unlisted' });
    const alert = shortAlert();
    const message = m.render(alert);
    expect(message.parts).toHaveLength(1);
    expect(message.parts[0].text).toBe(`${alert.title}\n\n${alert.summary}\n\nFull alert: ${alert.canonicalUrl}`);
    const result = expectKind(await deliver(m, message, undefined, { key: 'tocsin-A1-masto' }), 'sent');
    expect(fake.statuses).toHaveLength(1);
    const [status] = fake.statuses;
    expect(status.text).toBe(message.parts[0].text);
    expect(status.visibility).toBe('unlisted');
    expect(status.language).toBe('en');
    expect(status.idempotencyKey).toBe('tocsin-A1-masto');
    expect(result.first).toEqual({ id: status.id, url: status.url });
  });

  it("reads the instance's limit before rendering, and threads a long alert with in_reply_to_id and one key per part", async () => {
    fake.maxCharacters = 300;
    const m = channel({ spoilerText: 'Mass atrocity alert' });
    await m.prepare();
    const alert = exampleAlert();
    const message = m.render(alert);
    expect(message.parts.length).toBeGreaterThanOrEqual(3);
    expect(message.parts.every((p) => p.limit === 300)).toBe(true);
    expectWellFormedThread(message, (t) => mastodonLength(t) + 'Mass atrocity alert'.length);
    expectNothingCut(message, alert);
    expect(message.parts[0].text).toContain(`Full alert: ${alert.canonicalUrl}`); // default placement: first

    expectKind(await deliver(m, message), 'sent');
    expect(fake.statuses.map((s) => s.text)).toEqual(message.parts.map((p) => p.text));
    fake.statuses.forEach((s) => expect(s.spoiler_text).toBe('Mass atrocity alert'));
    expectChained();
    expect(new Set(fake.statuses.map((x) => x.idempotencyKey)).size).toBe(fake.statuses.length);
  });

  it('refuses to send parts rendered longer than the instance allows, before posting anything', async () => {
    const m = channel();
    const message = m.render(exampleAlert()); // rendered for the default 500
    fake.maxCharacters = 200;
    const result = expectKind(await deliver(m, message), 'failed');
    expect(result.reason).toMatch(/allows 200/);
    expect(fake.statuses).toHaveLength(0);
  });

  it('uploads the image with its description, waits while the instance processes it (202/206)', async () => {
    fake.processingPolls = 1;
    const m = channel();
    const alert = exampleAlert(images.image());
    const message = m.render(alert);
    expectKind(await deliver(m, message), 'sent');
    const [media] = [...fake.media.values()];
    expect(media.bytes.equals(PNG_1X1)).toBe(true);
    expect(media.contentType).toBe('image/png');
    expect(media.description).toBe(alert.image?.alt);
    expect(fake.requests.filter((r) => r.startsWith('GET /api/v1/media/'))).toHaveLength(2);
    expect(fake.statuses[0].media_ids).toEqual([media.id]);
    expect(fake.statuses.slice(1).every((s) => s.media_ids.length === 0)).toBe(true);
  });

  it('on 429 reports a rate-limited retry at X-RateLimit-Reset, and the next attempt posts', async () => {
    const reset = new Date(Math.ceil(Date.now() / 1000) * 1000 + 2000);
    fake.statusScript.on(1, {
      status: 429,
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset.toISOString() },
      body: { error: 'Too many requests' },
    });
    const m = channel();
    const message = m.render(shortAlert());
    const first = expectKind(await deliver(m, message), 'retry');
    expect(first.rateLimited).toBe(true);
    expect(first.retryAt).toBe(reset.getTime());
    expect(fake.statuses).toHaveLength(0);
    await sleep(Math.max(0, reset.getTime() - Date.now()));
    expectKind(await deliver(m, message, first.thread), 'sent');
    expect(fake.statuses).toHaveLength(1);
  });

  it('a timeout after the instance stored the post: a retry, and the resend is deduplicated by the idempotency key', async () => {
    fake.statusScript.on(1, { hangAfterStore: true });
    const m = channel({ timeoutMs: 1000 });
    const message = m.render(shortAlert());
    const lost = expectKind(await deliver(m, message, undefined, { key: 'tocsin-A2-masto' }), 'retry');
    expect(lost.rateLimited).toBe(false);
    expect(fake.statuses).toHaveLength(1);
    expect(mastodonHtmlToText(fake.statuses[0].content)).toBe(message.parts[0].text);
    expect((await m.findPart(message.parts[0], positionOf(message, 0, []), noSignal()))?.id).toBe(fake.statuses[0].id);

    // safeToResend: posting again with the same key returns the same status.
    expect(m.safeToResend).toBe(true);
    const again = expectKind(await deliver(channel(), message, lost.thread, { key: 'tocsin-A2-masto' }), 'sent');
    expect(again.first.id).toBe(fake.statuses[0].id);
    expect(fake.statuses).toHaveLength(1);
    expect(fake.idempotencyHits).toEqual(['tocsin-A2-masto']);
  });

  it('findPart finds a stored part (same text, replying to the same post) and answers null when it is not there', async () => {
    const m = channel();
    const message = m.render(alertWithParts(m, 3, 300));
    expect(await m.findPart(message.parts[0], positionOf(message, 0, []), noSignal())).toBeNull();
    const posted = await postDirectly(m, message, 2);
    expect((await m.findPart(message.parts[0], positionOf(message, 0, []), noSignal()))?.id).toBe(fake.statuses[0].id);
    expect((await m.findPart(message.parts[1], positionOf(message, 1, posted), noSignal()))?.id).toBe(fake.statuses[1].id);
    expect(await m.findPart(message.parts[2], positionOf(message, 2, posted), noSignal())).toBeNull();
    expect(await m.findPart(message.parts[1], { ...positionOf(message, 1, posted), replyTo: undefined }, noSignal())).toBeNull();
  });

  it('an auth failure fails the delivery, flagged as credentials; health says so', async () => {
    const m = channel({}, 'wrong-token');
    const message = m.render(shortAlert());
    const result = expectKind(await deliver(m, message), 'failed');
    expect(result.reason).toMatch(/access token is invalid/);
    const err = await deliveryError(m.postPart(message.parts[0], positionOf(message, 0, []), noSignal()));
    expect(err).toMatchObject({ kind: 'permanent', options: { status: 401, credentials: true } });
    expect(fake.statuses).toHaveLength(0);
    const health = await m.checkHealth();
    expect(health.ok).toBe(false);
    expect(health.detail).toMatch(/credentials rejected/);
  });

  it('health reports the account and missing scopes', async () => {
    const ok = await channel().checkHealth();
    expect(ok.ok).toBe(true);
    expect(ok.detail).toMatch(/@tocsin on 127\.0\.0\.1:\d+, 500 characters per post/);
    fake.scopes = ['read'];
    const missing = await channel().checkHealth();
    expect(missing.ok).toBe(false);
    expect(missing.missingPermissions).toEqual(['write:statuses', 'write:media']);
  });

  it('resumes a thread of 5 after part 3 failed: posts 3..5 only', async () => {
    const m = channel();
    const message = m.render(alertWithParts(m, 5, 300));
    fake.statusScript.on(3, { status: 503, body: { error: 'Service Unavailable' } });
    const failed = expectKind(await deliver(m, message, undefined, { key: 'tocsin-A3-masto' }), 'retry');
    expect(failed.rateLimited).toBe(false);
    expect(failed.thread.posted).toHaveLength(2);
    const resumed = expectKind(await deliver(m, message, { posted: failed.thread.posted, begun: [] }, { key: 'tocsin-A3-masto' }), 'sent');
    expect(resumed.thread.begun).toEqual([2, 3, 4]);
    expect(fake.statuses).toHaveLength(5);
    expect(fake.statuses.map((s) => s.text)).toEqual(message.parts.map((p) => p.text));
    expectChained();
    expect(fake.statuses.map((s) => s.idempotencyKey)).toEqual(keysFor('tocsin-A3-masto', 5));
  });

  it('after a crash while part 3 of 4 was in flight (the instance has it), the resend is deduplicated and part 4 follows', async () => {
    const m = channel();
    const message = m.render(alertWithParts(m, 4, 300));
    const [p0, p1, p2] = await postDirectly(m, message, 3, 'tocsin-A4-masto');
    const result = expectKind(await deliver(m, message, { posted: [p0, p1], begun: [], inflight: 2 }, { key: 'tocsin-A4-masto' }), 'sent');
    expect(result.posted[2].id).toBe(p2.id);
    expect(fake.idempotencyHits).toEqual(['tocsin-A4-masto-2']);
    expect(fake.statuses).toHaveLength(4);
    expect(fake.statuses.map((s) => s.text)).toEqual(message.parts.map((p) => p.text));
    expectChained();
    expect(fake.statuses.map((s) => s.idempotencyKey)).toEqual(keysFor('tocsin-A4-masto', 4));
  });

  it('after a crash between parts 2 and 3 of 4, resumes at part 3', async () => {
    const m = channel();
    const message = m.render(alertWithParts(m, 4, 300));
    const [p0, p1] = await postDirectly(m, message, 2, 'tocsin-A5-masto');
    const result = expectKind(await deliver(m, message, { posted: [p0, p1], begun: [] }, { key: 'tocsin-A5-masto' }), 'sent');
    expect(result.first.id).toBe(p0.id);
    expect(result.thread.begun).toEqual([2, 3]);
    expect(fake.idempotencyHits).toEqual([]);
    expect(fake.statuses.map((s) => s.text)).toEqual(message.parts.map((p) => p.text));
    expectChained();
  });

  it('needs baseUrl and an access token name', () => {
    expect(() => new MastodonChannel(socialAccount({ id: 'masto', provider: 'mastodon', credentialsEnv: { accessToken: 'T' } }), {})).toThrow(
      /social\.masto\.baseUrl/,
    );
    expect(() => new MastodonChannel(socialAccount({ id: 'masto', provider: 'mastodon', baseUrl: 'https://m.example' }), {})).toThrow(
      /social\.masto\.credentialsEnv\.accessToken/,
    );
    expect(() => channel({ visibility: 'everyone' })).toThrow(/social\.masto\.options\.visibility/);
  });
});
