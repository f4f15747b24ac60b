import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMastodonChannel, mastodonHtmlToText, mastodonLength, type MastodonChannel } from '../../src/channels/social/mastodon.js';
import { FakeMastodon } from '../fakes/mastodon.js';
import { FakeImageHost, PNG_1X1 } from '../fakes/image-host.js';
import {
  alertWithParts,
  deliveryError,
  exampleAlert,
  expectNothingCut,
  expectWellFormedThread,
  newContext,
  shortAlert,
  sleep,
  socialAccount,
  testDeps,
} from './helpers.js';

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
    createMastodonChannel(
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

  it('counts like Mastodon: every URL is 23, a remote mention only its local part, graphemes', () => {
    expect(mastodonLength('see https://example.org/a/very/long/path/indeed/and/more/and/more')).toBe(4 + 23);
    expect(mastodonLength('hi @alice@example.social')).toBe('hi @alice'.length);
    expect(mastodonLength('👍🏽 ok')).toBe(4);
  });

  it('posts a short alert with visibility, language and an Idempotency-Key', async () => {
    const m = channel({ visibility: 'unlisted' });
    const alert = shortAlert();
    const message = m.render(alert);
    expect(message.parts).toHaveLength(1);
    expect(message.parts[0].text).toBe(`${alert.title}\n\n${alert.summary}\n\nFull alert: ${alert.canonicalUrl}`);
    const first = await m.deliver(message, newContext([], 'tocsin-A1-masto'));
    expect(fake.statuses).toHaveLength(1);
    const [status] = fake.statuses;
    expect(status.text).toBe(message.parts[0].text);
    expect(status.visibility).toBe('unlisted');
    expect(status.language).toBe('en');
    expect(status.idempotencyKey).toBe('tocsin-A1-masto-0');
    expect(first).toEqual({ id: status.id, url: status.url });
  });

  it("reads the instance's limit before rendering, and threads a long alert with in_reply_to_id", async () => {
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

    await m.deliver(message, newContext());
    expect(fake.statuses.map((s) => s.text)).toEqual(message.parts.map((p) => p.text));
    fake.statuses.forEach((s, i) => {
      expect(s.spoiler_text).toBe('Mass atrocity alert');
      expect(s.in_reply_to_id).toBe(i === 0 ? null : fake.statuses[i - 1].id);
      expect(new Set(fake.statuses.map((x) => x.idempotencyKey)).size).toBe(fake.statuses.length);
    });
  });

  it('refuses to send parts rendered longer than the instance allows, before posting anything', async () => {
    const m = channel();
    const message = m.render(exampleAlert()); // rendered for the default 500
    fake.maxCharacters = 200;
    const err = await deliveryError(m.deliver(message, newContext()));
    expect(err.kind).toBe('permanent');
    expect(err.message).toMatch(/allows 200/);
    expect(fake.statuses).toHaveLength(0);
  });

  it('uploads the image with its description, waits while the instance processes it (202/206)', async () => {
    fake.processingPolls = 1;
    const m = channel();
    const alert = exampleAlert(images.image());
    const message = m.render(alert);
    await m.deliver(message, newContext());
    const [media] = [...fake.media.values()];
    expect(media.bytes.equals(PNG_1X1)).toBe(true);
    expect(media.contentType).toBe('image/png');
    expect(media.description).toBe(alert.image?.alt);
    expect(fake.requests.filter((r) => r.startsWith('GET /api/v1/media/'))).toHaveLength(2);
    expect(fake.statuses[0].media_ids).toEqual([media.id]);
  });

  it('on 429 reports rate-limited until X-RateLimit-Reset, then posts', async () => {
    const reset = new Date(Math.ceil(Date.now() / 1000) * 1000 + 2000);
    fake.statusScript.on(1, {
      status: 429,
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset.toISOString() },
      body: { error: 'Too many requests' },
    });
    const m = channel();
    const message = m.render(shortAlert());
    const err = await deliveryError(m.deliver(message, newContext()));
    expect(err.kind).toBe('rate-limited');
    expect(err.options.retryAt).toBe(reset.getTime());
    expect(fake.statuses).toHaveLength(0);
    await sleep(Math.max(0, reset.getTime() - Date.now()));
    await m.deliver(message, newContext());
    expect(fake.statuses).toHaveLength(1);
  });

  it('a timeout after the instance stored the post: unknown outcome, found by findExisting, and a resend is deduplicated', async () => {
    fake.statusScript.on(1, { hangAfterStore: true });
    const m = channel({ timeoutMs: 300 });
    const message = m.render(shortAlert());
    const context = newContext([], 'tocsin-A2-masto');
    const err = await deliveryError(m.deliver(message, context));
    expect(err.kind).toBe('unknown-outcome');
    expect(fake.statuses).toHaveLength(1);
    const found = await m.findExisting(message, context);
    expect(found?.id).toBe(fake.statuses[0].id);
    expect(mastodonHtmlToText(fake.statuses[0].content)).toBe(message.parts[0].text);

    // safeToResend: posting again with the same key returns the same status.
    expect(m.safeToResend).toBe(true);
    const again = await m.deliver(message, newContext([], 'tocsin-A2-masto'));
    expect(again.id).toBe(fake.statuses[0].id);
    expect(fake.statuses).toHaveLength(1);
    expect(fake.idempotencyHits).toEqual(['tocsin-A2-masto-0']);
  });

  it('findExisting answers null when the post is not there', async () => {
    const m = channel();
    expect(await m.findExisting(m.render(shortAlert()), newContext())).toBeNull();
  });

  it('an auth failure is permanent and flagged as credentials; health says so', async () => {
    const m = channel({}, 'wrong-token');
    const err = await deliveryError(m.deliver(m.render(shortAlert()), newContext()));
    expect(err).toMatchObject({ kind: 'permanent', options: { status: 401, credentials: true } });
    expect(err.message).toMatch(/access token is invalid/);
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
    const alert = alertWithParts(m, 5, 300);
    const message = m.render(alert);
    fake.statusScript.on(3, { status: 503, body: { error: 'Service Unavailable' } });
    const context = newContext([], 'tocsin-A3-masto');
    const err = await deliveryError(m.deliver(message, context));
    expect(err.kind).toBe('transient');
    expect(context.recorded).toHaveLength(2);
    const resumed = newContext(context.recorded, 'tocsin-A3-masto');
    await m.deliver(message, resumed);
    expect(resumed.recorded).toHaveLength(3);
    expect(fake.statuses).toHaveLength(5);
    expect(fake.statuses.map((s) => s.text)).toEqual(message.parts.map((p) => p.text));
    fake.statuses.forEach((s, i) => expect(s.in_reply_to_id).toBe(i === 0 ? null : fake.statuses[i - 1].id));
    expect(fake.statuses.map((s) => s.idempotencyKey)).toEqual([0, 1, 2, 3, 4].map((i) => `tocsin-A3-masto-${i}`));
  });

  it('needs baseUrl and an access token name', () => {
    expect(() => createMastodonChannel(socialAccount({ id: 'masto', provider: 'mastodon', credentialsEnv: { accessToken: 'T' } }), {})).toThrow(
      /social\.masto\.baseUrl/,
    );
    expect(() => createMastodonChannel(socialAccount({ id: 'masto', provider: 'mastodon', baseUrl: 'https://m.example' }), {})).toThrow(
      /social\.masto\.credentialsEnv\.accessToken/,
    );
    expect(() => channel({ visibility: 'everyone' })).toThrow(/social\.masto\.options\.visibility/);
  });
});
