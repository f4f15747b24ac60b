import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createXChannel, xLength, type XChannel } from '../../src/channels/social/x.js';
import { MemoryTokenStore } from '../../src/channels/social/tokens.js';
import { FakeX, X_USER } from '../fakes/x.js';
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

const KEYS = { appKey: 'app-key-1', appSecret: 'app-secret-1', accessToken: '1490000000000000001-token', accessSecret: 'access-secret-1' };
const ENV = { X_APP_KEY: KEYS.appKey, X_APP_SECRET: KEYS.appSecret, X_ACCESS_TOKEN: KEYS.accessToken, X_ACCESS_SECRET: KEYS.accessSecret };
const OAUTH1_NAMES = { appKey: 'X_APP_KEY', appSecret: 'X_APP_SECRET', accessToken: 'X_ACCESS_TOKEN', accessSecret: 'X_ACCESS_SECRET' };

describe('X adapter against a fake X API', () => {
  let fake: FakeX;
  let images: FakeImageHost;

  beforeAll(async () => {
    images = await new FakeImageHost().start();
  });
  afterAll(async () => {
    await images.close();
  });
  beforeEach(async (ctx) => {
    fake = await new FakeX().start();
    fake.oauth1 = KEYS;
    ctx.onTestFinished(() => fake.close());
  });

  const channel = (options: Record<string, unknown> = {}, env: Record<string, string> = ENV): XChannel =>
    createXChannel(
      socialAccount({ id: 'x-main', provider: 'x', baseUrl: fake.url, credentialsEnv: OAUTH1_NAMES, options: { timeoutMs: 2000, ...options } }),
      env,
      testDeps(),
    );

  it('posts a short alert as one post with OAuth 1.0a, the link once', async () => {
    const x = channel();
    const alert = shortAlert();
    const message = x.render(alert);
    expect(message.parts).toHaveLength(1);
    const part = message.parts[0];
    expect(part.text).toBe(`${alert.title}\n\n${alert.summary}\n\nFull alert: ${alert.canonicalUrl}`);
    expect(part.length).toBe(xLength(part.text));
    expect(part.limit).toBe(280);

    const context = newContext();
    const first = await x.deliver(message, context);
    expect(fake.tweets).toHaveLength(1);
    expect(fake.tweets[0].sentText).toBe(part.text);
    expect(fake.tweets[0].replyTo).toBeUndefined();
    expect(first.id).toBe(fake.tweets[0].id);
    expect(first.url).toContain(first.id);
    expect(context.recorded).toEqual([first]);
  });

  it('turns a long alert into a numbered thread, each reply chained to the one before', async () => {
    const x = channel();
    const alert = exampleAlert();
    const message = x.render(alert);
    expect(message.parts.length).toBeGreaterThanOrEqual(3);
    expectWellFormedThread(message, xLength);
    expectNothingCut(message, alert);
    // The link appears once, in the last part (default placement 'last').
    const withLink = message.parts.filter((p) => p.text.includes(alert.canonicalUrl as string));
    expect(withLink).toHaveLength(1);
    expect(message.parts.at(-1)?.text).toContain(alert.canonicalUrl);

    const context = newContext();
    await x.deliver(message, context);
    expect(fake.tweets.map((t) => t.sentText)).toEqual(message.parts.map((p) => p.text));
    fake.tweets.forEach((t, i) => {
      expect(twitterLength(t.sentText)).toBeLessThanOrEqual(280);
      expect(t.replyTo).toBe(i === 0 ? undefined : fake.tweets[i - 1].id);
    });
    expect(context.recorded.map((p) => p.id)).toEqual(fake.tweets.map((t) => t.id));
  });

  it('places the link first or in its own reply when configured', () => {
    const alert = exampleAlert();
    const first = channel({ linkPlacement: 'first' }).render(alert);
    expect(first.parts[0].text).toContain(`Full alert: ${alert.canonicalUrl}`);
    expect(first.parts.filter((p) => p.text.includes(alert.canonicalUrl as string))).toHaveLength(1);
    const reply = channel({ linkPlacement: 'reply' }).render(shortAlert());
    expect(reply.parts).toHaveLength(2);
    expect(reply.parts[0].text).not.toContain('https://');
    expect(reply.parts[1].text).toBe('Full alert: https://alerts.example.org/2026/delivery-test 2/2');
    expectWellFormedThread(reply, xLength);
  });

  it('uploads the lead image through the v2 chunked upload, with its alt text', async () => {
    const x = channel();
    const alert = exampleAlert(images.image());
    const message = x.render(alert);
    expect(message.parts[0].media).toEqual({ url: images.image(), alt: alert.image?.alt });
    await x.deliver(message, newContext());
    expect(fake.requests).toEqual(
      expect.arrayContaining([
        'POST /2/media/upload/initialize',
        expect.stringMatching(/append$/),
        expect.stringMatching(/finalize$/),
        'POST /2/media/metadata',
      ]),
    );
    const [media] = [...fake.media.values()];
    expect(Buffer.concat(media.segments).equals(PNG_1X1)).toBe(true);
    expect(media.mediaType).toBe('image/png');
    expect(media.alt).toBe(alert.image?.alt);
    expect(fake.tweets[0].mediaIds).toEqual([media.id]);
    expect(fake.tweets.slice(1).every((t) => t.mediaIds.length === 0)).toBe(true);
  });

  it('posts without the image, and says so, when the image cannot be fetched', async () => {
    const x = channel();
    const message = x.render(shortAlert({ image: { url: `${images.url}/media/gone.png`, alt: 'A picture that is not there.' } }));
    const first = await x.deliver(message, newContext());
    expect(fake.tweets[0].mediaIds).toEqual([]);
    // Staff see generic words: a 404 reads like any other failure to fetch (no map of the network).
    expect(first.ref?.warning).toBe('image left out: could not fetch the image');
    // With imageRequired the delivery fails instead.
    const strict = channel({ imageRequired: true });
    const err = await deliveryError(
      strict.deliver(strict.render(shortAlert({ title: 'Other', image: { url: `${images.url}/media/gone.png`, alt: 'x' } })), newContext()),
    );
    expect(err.kind).toBe('permanent');
  });

  it('on 429 reports rate-limited until x-rate-limit-reset, then posts', async () => {
    const reset = Math.floor(Date.now() / 1000) + 2;
    fake.tweetScript.on(1, {
      status: 429,
      headers: { 'x-rate-limit-remaining': '0', 'x-rate-limit-reset': String(reset) },
      body: { title: 'Too Many Requests', detail: 'Too Many Requests', type: 'about:blank', status: 429 },
    });
    const x = channel();
    const message = x.render(shortAlert());
    const err = await deliveryError(x.deliver(message, newContext()));
    expect(err.kind).toBe('rate-limited');
    expect(err.options.retryAt).toBe(reset * 1000);
    expect(fake.tweets).toHaveLength(0);
    await sleep(Math.max(0, (err.options.retryAt as number) - Date.now()));
    await x.deliver(message, newContext());
    expect(fake.tweets).toHaveLength(1);
  });

  it('waits for the 24-hour cap when that is what ran out', async () => {
    const dayReset = Math.floor(Date.now() / 1000) + 3600;
    fake.tweetScript.on(1, {
      status: 429,
      headers: {
        'x-rate-limit-reset': String(Math.floor(Date.now() / 1000) + 60),
        'x-user-limit-24hour-remaining': '0',
        'x-user-limit-24hour-reset': String(dayReset),
      },
      body: { title: 'Too Many Requests', status: 429 },
    });
    const x = channel();
    const err = await deliveryError(x.deliver(x.render(shortAlert()), newContext()));
    expect(err.options.retryAt).toBe(dayReset * 1000);
  });

  it('a timeout after X stored the post is an unknown outcome, and findExisting finds the post', async () => {
    fake.tweetScript.on(1, { hangAfterStore: true });
    const x = channel({ timeoutMs: 300 });
    const message = x.render(shortAlert());
    const context = newContext();
    const err = await deliveryError(x.deliver(message, context));
    expect(err.kind).toBe('unknown-outcome');
    expect(fake.tweets).toHaveLength(1);
    const found = await x.findExisting(message, context);
    expect(found?.id).toBe(fake.tweets[0].id);
  });

  it('findExisting tells a reply that never arrived (null), and one that did, in a thread', async () => {
    const x = channel();
    const message = x.render(exampleAlert());
    const context = newContext();
    fake.tweetScript.on(2, { hangAfterStore: true });
    const slow = channel({ timeoutMs: 300 });
    await deliveryError(slow.deliver(message, context));
    expect(context.posted).toHaveLength(1);
    const found = await x.findExisting(message, context);
    expect(found?.id).toBe(fake.tweets[1].id);
    await context.onPosted(found!);
    expect(await x.findExisting(message, context)).toBeNull();
    await x.deliver(message, context);
    expect(fake.tweets).toHaveLength(message.parts.length);
  });

  it('a re-post that X refuses as duplicate content is matched to the existing post', async () => {
    const x = channel();
    const message = x.render(shortAlert());
    fake.tweetScript.on(1, { hangAfterStore: true });
    await deliveryError(channel({ timeoutMs: 300 }).deliver(message, newContext()));
    const context = newContext();
    const first = await x.deliver(message, context);
    expect(fake.tweets).toHaveLength(1);
    expect(first.id).toBe(fake.tweets[0].id);
  });

  it('an auth failure is permanent and flagged as credentials; health says so', async () => {
    const x = channel({}, { ...ENV, X_ACCESS_SECRET: 'wrong-secret' });
    const err = await deliveryError(x.deliver(x.render(shortAlert()), newContext()));
    expect(err.kind).toBe('permanent');
    expect(err.options.credentials).toBe(true);
    expect(err.options.status).toBe(401);
    expect(fake.tweets).toHaveLength(0);
    const health = await x.checkHealth();
    expect(health.ok).toBe(false);
    expect(health.detail).toMatch(/credentials rejected/);
  });

  it('402 (credits exhausted) is permanent', async () => {
    fake.tweetScript.on(1, {
      status: 402,
      body: { title: 'Payment Required', detail: 'Your enrolled account does not have any credits.', type: 'about:blank', status: 402 },
    });
    const x = channel();
    const err = await deliveryError(x.deliver(x.render(shortAlert()), newContext()));
    expect(err.kind).toBe('permanent');
    expect(err.message).toMatch(/credits/);
  });

  it('health reports the account, and a read-only app as a missing permission', async () => {
    const x = channel();
    const ok = await x.checkHealth();
    expect(ok).toMatchObject({ ok: true });
    expect(ok.detail).toContain(`@${X_USER.username}`);
    fake.accessLevel = 'read';
    const readOnly = await channel().checkHealth();
    expect(readOnly.ok).toBe(false);
    expect(readOnly.missingPermissions?.[0]).toMatch(/write/);
    const unset = await channel({}, { ...ENV, X_APP_KEY: '' }).checkHealth();
    expect(unset).toMatchObject({ ok: false, detail: 'not set: X_APP_KEY' });
  });

  it('resumes a thread of 5 after part 3 failed: posts 3..5 only', async () => {
    const x = channel();
    const alert = alertWithParts(x, 5, 150);
    const message = x.render(alert);
    expect(message.parts).toHaveLength(5);
    fake.tweetScript.on(3, { status: 503, body: { title: 'Service Unavailable', detail: 'Service Unavailable', type: 'about:blank', status: 503 } });
    const context = newContext();
    const err = await deliveryError(x.deliver(message, context));
    expect(err.kind).toBe('transient');
    expect(context.recorded).toHaveLength(2);

    const resumed = newContext(context.recorded);
    const first = await x.deliver(message, resumed);
    expect(first.id).toBe(context.recorded[0].id);
    expect(resumed.recorded).toHaveLength(3);
    expect(fake.tweets).toHaveLength(5);
    expect(fake.tweets.map((t) => t.sentText)).toEqual(message.parts.map((p) => p.text));
    fake.tweets.forEach((t, i) => expect(t.replyTo).toBe(i === 0 ? undefined : fake.tweets[i - 1].id));
  });

  describe('OAuth 2.0 user token', () => {
    const NAMES = { clientId: 'X_CLIENT_ID', clientSecret: 'X_CLIENT_SECRET', refreshToken: 'X_REFRESH_TOKEN' };

    it('refreshes the token, keeps the new pair in the store, and refreshes again after a 401', async () => {
      const refresh = fake.enableOAuth2('client-1', 'client-secret-1');
      const store = new MemoryTokenStore();
      const env = { X_CLIENT_ID: 'client-1', X_CLIENT_SECRET: 'client-secret-1', X_REFRESH_TOKEN: refresh };
      const x = createXChannel(socialAccount({ id: 'x-oauth2', provider: 'x', baseUrl: fake.url, credentialsEnv: NAMES, options: { timeoutMs: 2000 } }), env, {
        tokenStore: store,
      });
      const message = x.render(shortAlert());
      await x.deliver(message, newContext());
      expect(fake.refreshCount).toBe(1);
      const saved = await store.load('x-oauth2');
      expect(saved?.refreshToken).toMatch(/^rt-/);
      expect(saved?.refreshToken).not.toBe(refresh);
      expect(saved?.scope).toContain('tweet.write');

      fake.expireAccessTokens();
      await x.deliver(x.render(shortAlert({ title: 'Second test post' })), newContext());
      expect(fake.refreshCount).toBe(2);
      expect(fake.tweets).toHaveLength(2);

      // A new process with the (now spent) refresh token from the environment uses the store.
      const again = createXChannel(socialAccount({ id: 'x-oauth2', provider: 'x', baseUrl: fake.url, credentialsEnv: NAMES }), env, { tokenStore: store });
      expect((await again.checkHealth()).ok).toBe(true);
    });

    it('a refresh token that X refuses is a permanent credentials failure', async () => {
      fake.enableOAuth2('client-1', 'client-secret-1');
      const env = { X_CLIENT_ID: 'client-1', X_CLIENT_SECRET: 'client-secret-1', X_REFRESH_TOKEN: 'rt-revoked' };
      const x = createXChannel(socialAccount({ id: 'x-oauth2', provider: 'x', baseUrl: fake.url, credentialsEnv: NAMES }), env);
      const err = await deliveryError(x.deliver(x.render(shortAlert()), newContext()));
      expect(err.kind).toBe('permanent');
      expect(err.options.credentials).toBe(true);
      expect(err.message).toMatch(/authorise the account again/);
    });
  });

  it('rejects unknown or invalid options naming the field', () => {
    expect(() => channel({ linkPlacement: 'middle' })).toThrow(/social\.x-main\.options\.linkPlacement/);
    expect(() => channel({ colour: 'red' })).toThrow(/social\.x-main\.options\.colour/);
    expect(() => createXChannel(socialAccount({ id: 'x-bad', provider: 'x', credentialsEnv: { appKey: 'A' } }), {})).toThrow(
      /social\.x-bad\.credentialsEnv\.appSecret/,
    );
  });
});

function twitterLength(text: string): number {
  return xLength(text);
}
