import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FacebookChannel } from '../../src/channels/social/facebook.js';
import { FakeFacebook, graphError, PAGE_ID } from '../fakes/facebook.js';
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
} from './helpers.js';

describe('Facebook Page adapter against a fake Graph API', () => {
  let fake: FakeFacebook;
  let images: FakeImageHost;

  beforeAll(async () => {
    images = await new FakeImageHost().start();
  });
  afterAll(async () => {
    await images.close();
  });
  beforeEach(async (ctx) => {
    fake = await new FakeFacebook().start();
    ctx.onTestFinished(() => fake.close());
  });

  const channel = (options: Record<string, unknown> = {}, token = fake.pageToken): FacebookChannel =>
    new FacebookChannel(
      socialAccount({
        id: 'fb-page',
        provider: 'facebook',
        baseUrl: fake.url,
        credentialsEnv: { pageAccessToken: 'FB_PAGE_TOKEN' },
        options: { pageId: PAGE_ID, timeoutMs: 2000, ...options },
      }),
      { FB_PAGE_TOKEN: token },
    );

  it('posts a link post: the text without the URL, the URL as the link (preview card)', async () => {
    const fb = channel();
    const alert = shortAlert();
    const message = fb.render(alert);
    expect(message.parts).toHaveLength(1);
    expect(message.parts[0].text).toBe(`${alert.title}\n\n${alert.summary}`);
    expect(message.parts[0].extra).toEqual({ endpoint: 'feed', link: alert.canonicalUrl });
    const result = expectKind(await deliver(fb, message), 'sent');
    expect(fake.posts).toHaveLength(1);
    expect(fake.posts[0]).toMatchObject({ message: message.parts[0].text, link: alert.canonicalUrl });
    expect(result.first).toEqual({ id: fake.posts[0].id, url: `https://www.facebook.com/${fake.posts[0].id}` });
  });

  it('posts the whole example alert as one post; an alert over 63,206 characters continues in comments', async () => {
    const fb = channel();
    const example = fb.render(exampleAlert());
    expect(example.parts).toHaveLength(1);
    expectNothingCut(example, exampleAlert());

    const alert = alertWithParts(fb, 3, 1990);
    const message = fb.render(alert);
    expectWellFormedThread(message, (t) => t.length);
    expect(message.parts.map((p) => p.limit)).toEqual([63206, 8000, 8000]);
    expectNothingCut(message, alert);
    expectKind(await deliver(fb, message), 'sent');
    expect(fake.posts).toHaveLength(1);
    expect(fake.posts[0].message).toBe(message.parts[0].text);
    expect(fake.posts[0].comments.map((c) => c.message)).toEqual(message.parts.slice(1).map((p) => p.text));
  });

  it('posts a photo with caption and alt text; the link goes in the caption', async () => {
    const fb = channel();
    const alert = exampleAlert(images.image());
    const message = fb.render(alert);
    expect(message.parts[0].extra).toEqual({ endpoint: 'photos' });
    expect(message.parts[0].text.endsWith(`Full alert: ${alert.canonicalUrl}`)).toBe(true);
    const result = expectKind(await deliver(fb, message), 'sent');
    const [post] = fake.posts;
    expect(post.photo?.bytes.equals(PNG_1X1)).toBe(true);
    expect(post.photo?.alt).toBe(alert.image?.alt);
    expect(post.message).toBe(message.parts[0].text);
    expect(result.first.id).toBe(post.id);
    expect(result.first.ref?.photoId).toBe(post.photo?.photoId);
  });

  it('falls back to a text post, with a warning, when Facebook cannot use the image', async () => {
    const fb = channel();
    const result = expectKind(await deliver(fb, fb.render(shortAlert({ image: { url: `${images.url}/media/page.html`, alt: 'Not an image.' } }))), 'sent');
    expect(fake.posts).toHaveLength(1);
    expect(fake.posts[0].photo).toBeUndefined();
    expect(result.first.ref?.warning).toMatch(/image left out.*324/);
  });

  it('maps rate-limit codes to a rate-limited retry: usage headers in minutes, else one hour', async () => {
    const fb = channel();
    const message = fb.render(shortAlert());
    fake.postScript.on(1, {
      status: 400,
      headers: {
        'x-business-use-case-usage': JSON.stringify({
          [PAGE_ID]: [{ type: 'pages', call_count: 100, total_cputime: 20, total_time: 30, estimated_time_to_regain_access: 2 }],
        }),
      },
      body: graphError(32, '(#32) Page request limit reached'),
    });
    let result = expectKind(await deliver(fb, message), 'retry');
    expect(result.rateLimited).toBe(true);
    expect(result.retryAt).toBeGreaterThan(Date.now() + 110_000);
    expect(result.retryAt).toBeLessThanOrEqual(Date.now() + 120_000);

    fake.postScript.on(1, { status: 400, body: graphError(4, '(#4) Application request limit reached', { is_transient: true }) });
    result = expectKind(await deliver(fb, message), 'retry');
    expect(result.rateLimited).toBe(true);
    expect(result.retryAt).toBeGreaterThan(Date.now() + 59 * 60_000);
    expect(fake.posts).toHaveLength(0);
  });

  it('on 429 with Retry-After 2 seconds reports a rate-limited retry until then, and the next attempt posts', async () => {
    const fb = channel();
    const message = fb.render(shortAlert());
    fake.postScript.on(1, { status: 429, headers: { 'retry-after': '2' }, body: graphError(613, 'Calls to this api have exceeded the rate limit.') });
    const before = Date.now();
    const first = expectKind(await deliver(fb, message), 'retry');
    expect(first.rateLimited).toBe(true);
    expect(first.retryAt).toBeGreaterThanOrEqual(before + 2000);
    expect(first.retryAt).toBeLessThanOrEqual(Date.now() + 2000);
    await sleep(Math.max(0, (first.retryAt as number) - Date.now()));
    expectKind(await deliver(fb, message, first.thread), 'sent');
    expect(fake.posts).toHaveLength(1);
  });

  it('a timeout after Facebook stored the post: the post is found on the Page and recorded, never posted again', async () => {
    fake.postScript.on(1, { hangAfterStore: true });
    const fb = channel({ timeoutMs: 1000 });
    const message = fb.render(shortAlert());
    const result = expectKind(await deliver(fb, message), 'sent');
    expect(fake.posts).toHaveLength(1);
    expect(result.first.id).toBe(fake.posts[0].id);
  });

  it('a re-post that Facebook refuses as a duplicate (506) is matched to the existing post', async () => {
    const fb = channel();
    const message = fb.render(shortAlert());
    const before = expectKind(await deliver(fb, message), 'sent');
    // The record of that delivery is gone: a new attempt starts from nothing.
    const again = expectKind(await deliver(fb, message), 'sent');
    expect(again.first.id).toBe(before.first.id);
    expect(fake.posts).toHaveLength(1);
  });

  it('findPart finds the post on the Page and a comment under it, and answers null for what is not there', async () => {
    const fb = channel();
    const message = fb.render(alertWithParts(fb, 3, 1990));
    const posted = await postDirectly(fb, message, 2);
    expect((await fb.findPart(message.parts[0], positionOf(message, 0, []), noSignal()))?.id).toBe(fake.posts[0].id);
    expect((await fb.findPart(message.parts[1], positionOf(message, 1, posted), noSignal()))?.id).toBe(fake.posts[0].comments[0].id);
    expect(await fb.findPart(message.parts[2], positionOf(message, 2, posted), noSignal())).toBeNull();
    const never = fb.render(shortAlert({ title: 'Never posted' }));
    expect(await fb.findPart(never.parts[0], positionOf(never, 0, []), noSignal())).toBeNull();
  });

  it('an expired token (code 190) fails the delivery, flagged as credentials; health says so', async () => {
    fake.tokenValid = false;
    const fb = channel();
    const message = fb.render(shortAlert());
    const result = expectKind(await deliver(fb, message), 'failed');
    expect(result.reason).toMatch(/Session has expired/);
    const err = await deliveryError(fb.postPart(message.parts[0], positionOf(message, 0, []), noSignal()));
    expect(err).toMatchObject({ kind: 'permanent', options: { code: 190, credentials: true } });
    expect(fake.posts).toHaveLength(0);
    const health = await fb.checkHealth();
    expect(health.ok).toBe(false);
    expect(health.detail).toMatch(/not valid/);
  });

  it('health reports the page, the token expiry and missing permissions', async () => {
    const ok = await channel().checkHealth();
    expect(ok.ok).toBe(true);
    expect(ok.detail).toContain('Tocsin Test Page');
    expect(ok.expiresAt).toBe(new Date(fake.dataAccessExpiresAt * 1000).toISOString());
    fake.scopes = ['pages_show_list'];
    fake.expiresAt = Math.floor(Date.now() / 1000) + 3600;
    const missing = await channel().checkHealth();
    expect(missing.ok).toBe(false);
    expect(missing.missingPermissions).toEqual(['pages_manage_posts', 'pages_read_engagement']);
    expect(missing.expiresAt).toBe(new Date(fake.expiresAt * 1000).toISOString());
  });

  it('resumes after a failed comment: the post and earlier parts are not posted again', async () => {
    const fb = channel();
    const message = fb.render(alertWithParts(fb, 4, 1990));
    fake.postScript.on(3, { status: 500, body: graphError(2, 'An unexpected error has occurred. Please retry your request later.', { is_transient: true }) });
    const failed = expectKind(await deliver(fb, message), 'retry');
    expect(failed.rateLimited).toBe(false);
    expect(failed.thread.posted).toHaveLength(2);
    const resumed = expectKind(await deliver(fb, message, { posted: failed.thread.posted, begun: [] }), 'sent');
    expect(resumed.thread.begun).toEqual([2, 3]);
    expect(fake.posts).toHaveLength(1);
    expect(fake.posts[0].comments.map((c) => c.message)).toEqual(message.parts.slice(1).map((p) => p.text));
  });

  it('after a crash while part 3 of 4 was in flight (Facebook has it), finds the comment and posts only part 4', async () => {
    const fb = channel();
    const message = fb.render(alertWithParts(fb, 4, 1990));
    const [p0, p1, p2] = await postDirectly(fb, message, 3);
    const result = expectKind(await deliver(fb, message, { posted: [p0, p1], begun: [], inflight: 2 }), 'sent');
    expect(result.posted[2].id).toBe(p2.id);
    expect(result.thread.begun).toEqual([3]);
    expect(fake.posts).toHaveLength(1);
    expect(fake.posts[0].message).toBe(message.parts[0].text);
    expect(fake.posts[0].comments.map((c) => c.message)).toEqual(message.parts.slice(1).map((p) => p.text));
  });

  it('after a crash between parts 2 and 3 of 4, resumes at part 3', async () => {
    const fb = channel();
    const message = fb.render(alertWithParts(fb, 4, 1990));
    const [p0, p1] = await postDirectly(fb, message, 2);
    const result = expectKind(await deliver(fb, message, { posted: [p0, p1], begun: [] }), 'sent');
    expect(result.first.id).toBe(p0.id);
    expect(result.thread.begun).toEqual([2, 3]);
    expect(fake.posts).toHaveLength(1);
    expect(fake.posts[0].comments.map((c) => c.message)).toEqual(message.parts.slice(1).map((p) => p.text));
  });

  it('validates options naming the field', () => {
    expect(() => channel({ pageId: 'my-page' })).toThrow(/social\.fb-page\.options\.pageId/);
    expect(() => new FacebookChannel(socialAccount({ id: 'fb', provider: 'facebook', credentialsEnv: { pageAccessToken: 'T' } }), {})).toThrow(
      /social\.fb\.options\.pageId/,
    );
  });
});
