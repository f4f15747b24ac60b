import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { xLength, XChannel } from '../../src/channels/social/x.js';
import { MemoryTokenStore } from '../../src/channels/social/tokens.js';
import { FakeX, X_USER } from '../fakes/x.js';
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

const KEYS = { appKey: 'app-key-1', appSecret: 'app-secret-1', accessToken: '1490000000000000001-token', accessSecret: 'access-secret-1' };
const ENV = { X_APP_KEY: KEYS.appKey, X_APP_SECRET: KEYS.appSecret, X_ACCESS_TOKEN: KEYS.accessToken, X_ACCESS_SECRET: KEYS.accessSecret };
const OAUTH1_NAMES = { appKey: 'X_APP_KEY', appSecret: 'X_APP_SECRET', accessToken: 'X_ACCESS_TOKEN', accessSecret: 'X_ACCESS_SECRET' };
const DUPLICATE = { detail: 'You are not allowed to create a Tweet with duplicate content.', type: 'about:blank', title: 'Forbidden', status: 403 };

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
    new XChannel(
      socialAccount({ id: 'x-main', provider: 'x', baseUrl: fake.url, credentialsEnv: OAUTH1_NAMES, options: { timeoutMs: 2000, ...options } }),
      env,
      testDeps(),
    );
  const tweetPosts = () => fake.requests.filter((r) => r === 'POST /2/tweets').length;
  const expectChained = () => fake.tweets.forEach((t, i) => expect(t.replyTo).toBe(i === 0 ? undefined : fake.tweets[i - 1].id));

  it('posts a short alert as one post with OAuth 1.0a, the link once', async () => {
    const x = channel();
    const alert = shortAlert();
    const message = x.render(alert);
    expect(message.parts).toHaveLength(1);
    const part = message.parts[0];
    expect(part.text).toBe(`${alert.title}\n\n${alert.summary}\n\nFull alert: ${alert.canonicalUrl}`);
    expect(part.length).toBe(xLength(part.text));
    expect(part.limit).toBe(280);

    const result = expectKind(await deliver(x, message), 'sent');
    expect(fake.tweets).toHaveLength(1);
    expect(fake.tweets[0].sentText).toBe(part.text);
    expect(fake.tweets[0].replyTo).toBeUndefined();
    expect(result.first.id).toBe(fake.tweets[0].id);
    expect(result.first.url).toContain(result.first.id);
    expect(result.thread.posted).toEqual([result.first]);
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

    const result = expectKind(await deliver(x, message), 'sent');
    expect(fake.tweets.map((t) => t.sentText)).toEqual(message.parts.map((p) => p.text));
    fake.tweets.forEach((t) => expect(xLength(t.sentText)).toBeLessThanOrEqual(280));
    expectChained();
    expect(result.thread.posted.map((p) => p.id)).toEqual(fake.tweets.map((t) => t.id));
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

  it('uploads the lead image through the v2 chunked upload, with its alt text, on the first post only', async () => {
    const x = channel();
    const alert = exampleAlert(images.image());
    const message = x.render(alert);
    expect(message.parts[0].media).toEqual({ url: images.image(), alt: alert.image?.alt });
    expectKind(await deliver(x, message), 'sent');
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

  it('posts without the image, and says so, when the image cannot be fetched; with imageRequired it fails instead', async () => {
    const x = channel();
    const message = x.render(shortAlert({ image: { url: `${images.url}/media/gone.png`, alt: 'A picture that is not there.' } }));
    const result = expectKind(await deliver(x, message), 'sent');
    expect(fake.tweets[0].mediaIds).toEqual([]);
    // Staff see generic words: a 404 reads like any other failure to fetch (no map of the network).
    expect(result.first.ref?.warning).toBe('image left out: could not fetch the image');

    const strict = channel({ imageRequired: true });
    const failed = expectKind(
      await deliver(strict, strict.render(shortAlert({ title: 'Other', image: { url: `${images.url}/media/gone.png`, alt: 'x' } }))),
      'failed',
    );
    expect(failed.reason).toBe('could not fetch the image');
    expect(fake.tweets).toHaveLength(1);
  });

  it('on 429 reports a rate-limited retry at x-rate-limit-reset, and the next attempt posts', async () => {
    const reset = Math.floor(Date.now() / 1000) + 2;
    fake.tweetScript.on(1, {
      status: 429,
      headers: { 'x-rate-limit-remaining': '0', 'x-rate-limit-reset': String(reset) },
      body: { title: 'Too Many Requests', detail: 'Too Many Requests', type: 'about:blank', status: 429 },
    });
    const x = channel();
    const message = x.render(shortAlert());
    const first = expectKind(await deliver(x, message), 'retry');
    expect(first.rateLimited).toBe(true);
    expect(first.retryAt).toBe(reset * 1000);
    expect(fake.tweets).toHaveLength(0);
    await sleep(Math.max(0, reset * 1000 - Date.now()));
    // The next attempt starts from what this one recorded.
    expectKind(await deliver(x, message, first.thread), 'sent');
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
    const result = expectKind(await deliver(x, x.render(shortAlert())), 'retry');
    expect(result.rateLimited).toBe(true);
    expect(result.retryAt).toBe(dayReset * 1000);
  });

  it('a timeout after X stored the post: the post is looked up and recorded, never posted again', async () => {
    fake.tweetScript.on(1, { hangAfterStore: true });
    // Short enough to give up on the hung request soon, long enough for every other answer on a loaded machine.
    const x = channel({ timeoutMs: 1000 });
    const message = x.render(shortAlert());
    const result = expectKind(await deliver(x, message), 'sent');
    expect(fake.tweets).toHaveLength(1);
    expect(result.first.id).toBe(fake.tweets[0].id);
    expect(tweetPosts()).toBe(1);
    expect(fake.requests).toContain(`GET /2/users/${X_USER.id}/tweets`);
  });

  it('a reply whose answer was lost mid-thread is found, and the thread goes on from it', async () => {
    const message = channel().render(exampleAlert());
    fake.tweetScript.on(2, { hangAfterStore: true });
    const result = expectKind(await deliver(channel({ timeoutMs: 1000 }), message), 'sent');
    expect(fake.tweets.map((t) => t.sentText)).toEqual(message.parts.map((p) => p.text));
    expectChained();
    expect(result.posted[1].id).toBe(fake.tweets[1].id);
    expect(tweetPosts()).toBe(message.parts.length);
  });

  it('findPart finds a part X has (same text, replying to the same post) and answers null for one it does not', async () => {
    const x = channel();
    const message = x.render(exampleAlert());
    fake.tweetScript.on(3, { status: 503, body: { title: 'Service Unavailable', detail: 'Service Unavailable', type: 'about:blank', status: 503 } });
    const { posted } = expectKind(await deliver(x, message), 'retry');
    expect(posted).toHaveLength(2);
    const found = await x.findPart(message.parts[1], positionOf(message, 1, posted), noSignal());
    expect(found?.id).toBe(fake.tweets[1].id);
    expect(await x.findPart(message.parts[2], positionOf(message, 2, posted), noSignal())).toBeNull();
    // The same text, but not as a reply to the part before: not the part we are looking for.
    expect(await x.findPart(message.parts[1], { ...positionOf(message, 1, posted), replyTo: undefined }, noSignal())).toBeNull();
  });

  it('a re-post that X refuses as duplicate content is matched to the existing post', async () => {
    const x = channel();
    const message = x.render(shortAlert());
    const before = expectKind(await deliver(x, message), 'sent');
    // The record of that delivery is gone: a new attempt starts from nothing.
    const again = expectKind(await deliver(x, message), 'sent');
    expect(fake.tweets).toHaveLength(1);
    expect(again.first.id).toBe(before.first.id);
    expect(tweetPosts()).toBe(2);
  });

  it('a duplicate refusal for a post that is not on the account ends unknown, and the rest of the thread is not posted', async () => {
    const x = channel();
    const message = x.render(exampleAlert());
    fake.tweetScript.on(2, { status: 403, body: DUPLICATE });
    const result = expectKind(await deliver(x, message), 'unknown');
    expect(result.reason).toMatch(new RegExp(`refused part 2 of ${message.parts.length} as a duplicate, but it was not found`));
    expect(result.reason).toMatch(new RegExp(`part ${message.parts.length} (was|were) not posted|parts 3 to ${message.parts.length} were not posted`));
    expect(result.posted).toHaveLength(1);
    expect(fake.tweets).toHaveLength(1);
  });

  it('an auth failure fails the delivery, flagged as credentials; health says so', async () => {
    const x = channel({}, { ...ENV, X_ACCESS_SECRET: 'wrong-secret' });
    const message = x.render(shortAlert());
    const result = expectKind(await deliver(x, message), 'failed');
    expect(result.reason).toMatch(/401/);
    const err = await deliveryError(x.postPart(message.parts[0], positionOf(message, 0, []), noSignal()));
    expect(err.kind).toBe('permanent');
    expect(err.options.credentials).toBe(true);
    expect(err.options.status).toBe(401);
    expect(fake.tweets).toHaveLength(0);
    const health = await x.checkHealth();
    expect(health.ok).toBe(false);
    expect(health.detail).toMatch(/credentials rejected/);
  });

  it('402 (credits exhausted) fails the delivery', async () => {
    fake.tweetScript.on(1, {
      status: 402,
      body: { title: 'Payment Required', detail: 'Your enrolled account does not have any credits.', type: 'about:blank', status: 402 },
    });
    const x = channel();
    const result = expectKind(await deliver(x, x.render(shortAlert())), 'failed');
    expect(result.reason).toMatch(/credits/);
    expect(fake.tweets).toHaveLength(0);
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
    const message = x.render(alertWithParts(x, 5, 150));
    expect(message.parts).toHaveLength(5);
    fake.tweetScript.on(3, { status: 503, body: { title: 'Service Unavailable', detail: 'Service Unavailable', type: 'about:blank', status: 503 } });
    const failed = expectKind(await deliver(x, message), 'retry');
    expect(failed.rateLimited).toBe(false);
    expect(failed.reason).toMatch(/after 2 of 5 parts/);
    expect(failed.thread.posted).toHaveLength(2);

    const resumed = expectKind(await deliver(x, message, { posted: failed.thread.posted, begun: [] }), 'sent');
    expect(resumed.first.id).toBe(failed.thread.posted[0].id);
    expect(resumed.thread.begun).toEqual([2, 3, 4]);
    expect(fake.tweets).toHaveLength(5);
    expect(fake.tweets.map((t) => t.sentText)).toEqual(message.parts.map((p) => p.text));
    expectChained();
  });

  it('after a crash while part 3 of 4 was in flight (X has it), finds it and posts only part 4', async () => {
    const x = channel();
    const message = x.render(alertWithParts(x, 4, 150));
    const [p0, p1, p2] = await postDirectly(x, message, 3);
    const result = expectKind(await deliver(x, message, { posted: [p0, p1], begun: [], inflight: 2 }), 'sent');
    expect(result.posted[2].id).toBe(p2.id);
    expect(result.thread.begun).toEqual([3]);
    expect(fake.tweets).toHaveLength(4);
    expect(fake.tweets.map((t) => t.sentText)).toEqual(message.parts.map((p) => p.text));
    expectChained();
    expect(tweetPosts()).toBe(4);
  });

  it('after a crash between parts 2 and 3 of 4, resumes at part 3', async () => {
    const x = channel();
    const message = x.render(alertWithParts(x, 4, 150));
    const [p0, p1] = await postDirectly(x, message, 2);
    const result = expectKind(await deliver(x, message, { posted: [p0, p1], begun: [] }), 'sent');
    expect(result.first.id).toBe(p0.id);
    expect(result.thread.begun).toEqual([2, 3]);
    expect(fake.tweets.map((t) => t.sentText)).toEqual(message.parts.map((p) => p.text));
    expectChained();
  });

  describe('OAuth 2.0 user token', () => {
    const NAMES = { clientId: 'X_CLIENT_ID', clientSecret: 'X_CLIENT_SECRET', refreshToken: 'X_REFRESH_TOKEN' };

    it('refreshes the token, keeps the new pair in the store, and refreshes again after a 401', async () => {
      const refresh = fake.enableOAuth2('client-1', 'client-secret-1');
      const store = new MemoryTokenStore();
      const env = { X_CLIENT_ID: 'client-1', X_CLIENT_SECRET: 'client-secret-1', X_REFRESH_TOKEN: refresh };
      const x = new XChannel(socialAccount({ id: 'x-oauth2', provider: 'x', baseUrl: fake.url, credentialsEnv: NAMES, options: { timeoutMs: 2000 } }), env, {
        tokenStore: store,
      });
      expectKind(await deliver(x, x.render(shortAlert())), 'sent');
      expect(fake.refreshCount).toBe(1);
      const saved = await store.load('x-oauth2');
      expect(saved?.refreshToken).toMatch(/^rt-/);
      expect(saved?.refreshToken).not.toBe(refresh);
      expect(saved?.scope).toContain('tweet.write');

      fake.expireAccessTokens();
      expectKind(await deliver(x, x.render(shortAlert({ title: 'Second test post' }))), 'sent');
      expect(fake.refreshCount).toBe(2);
      expect(fake.tweets).toHaveLength(2);

      // A new process with the (now spent) refresh token from the environment uses the store.
      const again = new XChannel(socialAccount({ id: 'x-oauth2', provider: 'x', baseUrl: fake.url, credentialsEnv: NAMES }), env, { tokenStore: store });
      expect((await again.checkHealth()).ok).toBe(true);
    });

    it('a refresh token that X refuses fails the delivery as a credentials problem', async () => {
      fake.enableOAuth2('client-1', 'client-secret-1');
      const env = { X_CLIENT_ID: 'client-1', X_CLIENT_SECRET: 'client-secret-1', X_REFRESH_TOKEN: 'rt-revoked' };
      const x = new XChannel(socialAccount({ id: 'x-oauth2', provider: 'x', baseUrl: fake.url, credentialsEnv: NAMES }), env);
      const message = x.render(shortAlert());
      const result = expectKind(await deliver(x, message), 'failed');
      expect(result.reason).toMatch(/authorise the account again/);
      const err = await deliveryError(x.postPart(message.parts[0], positionOf(message, 0, []), noSignal()));
      expect(err.kind).toBe('permanent');
      expect(err.options.credentials).toBe(true);
      expect(fake.tweets).toHaveLength(0);
    });
  });

  it('rejects unknown or invalid options naming the field', () => {
    expect(() => channel({ linkPlacement: 'middle' })).toThrow(/social\.x-main\.options\.linkPlacement/);
    expect(() => channel({ colour: 'red' })).toThrow(/social\.x-main\.options\.colour/);
    expect(() => new XChannel(socialAccount({ id: 'x-bad', provider: 'x', credentialsEnv: { appKey: 'A' } }), {})).toThrow(
      /social\.x-bad\.credentialsEnv\.appSecret/,
    );
  });
});
