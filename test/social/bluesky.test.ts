import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { blueskyLength, createBlueskyChannel, partRkey, tid, type BlueskyChannel } from '../../src/channels/social/bluesky.js';
import { BSKY_DID, BSKY_HANDLE, FakeBluesky } from '../fakes/bluesky.js';
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

const TID = /^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$/;

describe('Bluesky adapter against a fake PDS', () => {
  let fake: FakeBluesky;
  let images: FakeImageHost;

  beforeAll(async () => {
    images = await new FakeImageHost().start();
  });
  afterAll(async () => {
    await images.close();
  });
  beforeEach(async (ctx) => {
    fake = await new FakeBluesky().start();
    ctx.onTestFinished(() => fake.close());
  });

  const channel = (options: Record<string, unknown> = {}, password = fake.password): BlueskyChannel =>
    createBlueskyChannel(
      socialAccount({
        id: 'bsky',
        provider: 'bluesky',
        baseUrl: fake.url,
        credentialsEnv: { identifier: 'BSKY_HANDLE', password: 'BSKY_APP_PASSWORD' },
        options: { timeoutMs: 2000, ...options },
      }),
      { BSKY_HANDLE: BSKY_HANDLE, BSKY_APP_PASSWORD: password },
      testDeps(),
    );

  it('makes valid TIDs', () => {
    expect(tid(0n, 0)).toBe('2222222222222');
    const alert = shortAlert();
    const keys = [0, 1, 2].map((i) => partRkey(alert, 'bsky', i));
    keys.forEach((k) => expect(k).toMatch(TID));
    expect(new Set(keys).size).toBe(3);
    expect(partRkey(alert, 'bsky', 0)).toBe(keys[0]);
    expect(partRkey(alert, 'other-account', 0)).not.toBe(keys[0]);
  });

  it('posts a short alert with a link facet, a link card and a deterministic record key', async () => {
    const b = channel();
    const alert = shortAlert();
    const message = b.render(alert);
    expect(message.parts).toHaveLength(1);
    const part = message.parts[0];
    expect(part.length).toBe(blueskyLength(part.text));
    const first = await b.deliver(message, newContext());
    expect(fake.records).toHaveLength(1);
    const [record] = fake.records;
    expect(record.value.text).toBe(part.text);
    expect(record.rkey).toBe(partRkey(alert, 'bsky', 0));
    expect(record.value.langs).toEqual(['en']);
    const link = record.value.facets?.[0];
    expect(link?.features[0]).toEqual({ $type: 'app.bsky.richtext.facet#link', uri: alert.canonicalUrl });
    expect(Buffer.from(record.value.text).subarray(link!.index.byteStart, link!.index.byteEnd).toString()).toBe(alert.canonicalUrl);
    expect(record.value.embed).toEqual({
      $type: 'app.bsky.embed.external',
      external: { uri: alert.canonicalUrl, title: alert.title, description: alert.summary },
    });
    expect(first).toEqual({ id: record.uri, url: `https://bsky.app/profile/${BSKY_HANDLE}/post/${record.rkey}`, ref: { uri: record.uri, cid: record.cid } });
  });

  it('threads a long alert with reply refs {root, parent}, every part within 300 graphemes', async () => {
    const b = channel();
    const alert = exampleAlert();
    const message = b.render(alert);
    expect(message.parts.length).toBeGreaterThanOrEqual(2);
    expectWellFormedThread(message, blueskyLength);
    expectNothingCut(message, alert);
    await b.deliver(message, newContext());
    expect(fake.records.map((r) => r.value.text)).toEqual(message.parts.map((p) => p.text));
    const [root] = fake.records;
    fake.records.forEach((r, i) => {
      expect([...new Intl.Segmenter().segment(r.value.text)].length).toBeLessThanOrEqual(300);
      expect(r.rkey).toBe(partRkey(alert, 'bsky', i));
      if (i === 0) expect(r.value.reply).toBeUndefined();
      else expect(r.value.reply).toEqual({ root: { uri: root.uri, cid: root.cid }, parent: { uri: fake.records[i - 1].uri, cid: fake.records[i - 1].cid } });
    });
  });

  it('embeds the image with its alt text instead of a link card', async () => {
    const b = channel();
    const alert = exampleAlert(images.image());
    const message = b.render(alert);
    await b.deliver(message, newContext());
    const embed = fake.records[0].value.embed;
    expect(embed?.$type).toBe('app.bsky.embed.images');
    expect(embed?.images?.[0].alt).toBe(alert.image?.alt);
    const blob = fake.blobs.get(embed?.images?.[0].image.ref.$link as string);
    expect(blob?.bytes.equals(PNG_1X1)).toBe(true);
    expect(blob?.mimeType).toBe('image/png');
    expect(fake.records.slice(1).every((r) => !r.value.embed)).toBe(true);
  });

  it('leaves out an image over 1 MB, posting with a warning', async () => {
    const b = channel();
    const first = await b.deliver(b.render(shortAlert({ image: { url: images.image('huge.png'), alt: 'Too big.' } })), newContext());
    expect(first.ref?.warning).toMatch(/image left out/);
    expect(fake.records[0].value.embed).toBeUndefined();
  });

  it('on 429 reports rate-limited until ratelimit-reset, then posts', async () => {
    const reset = Math.floor(Date.now() / 1000) + 2;
    fake.createScript.on(1, {
      status: 429,
      headers: { 'ratelimit-remaining': '0', 'ratelimit-reset': String(reset) },
      body: { error: 'RateLimitExceeded', message: 'Rate Limit Exceeded' },
    });
    const b = channel();
    const message = b.render(shortAlert());
    const err = await deliveryError(b.deliver(message, newContext()));
    expect(err.kind).toBe('rate-limited');
    expect(err.options.retryAt).toBe(reset * 1000);
    expect(fake.records).toHaveLength(0);
    await sleep(Math.max(0, reset * 1000 - Date.now()));
    await b.deliver(message, newContext());
    expect(fake.records).toHaveLength(1);
  });

  it('a timeout after the PDS stored the post: unknown outcome, found at its record key; a resend cannot duplicate', async () => {
    fake.createScript.on(1, { hangAfterStore: true });
    const b = channel({ timeoutMs: 300 });
    const message = b.render(shortAlert());
    const context = newContext();
    const err = await deliveryError(b.deliver(message, context));
    expect(err.kind).toBe('unknown-outcome');
    expect(fake.records).toHaveLength(1);
    const found = await b.findExisting(message, context);
    expect(found).toMatchObject({ id: fake.records[0].uri, ref: { cid: fake.records[0].cid } });

    expect(b.safeToResend).toBe(true);
    const again = await b.deliver(message, newContext());
    expect(again.id).toBe(fake.records[0].uri);
    expect(fake.records).toHaveLength(1);
  });

  it('findExisting says null for a part never stored, and finds by text when record keys are off', async () => {
    const b = channel();
    const message = b.render(shortAlert());
    expect(await b.findExisting(message, newContext())).toBeNull();
    const free = channel({ deterministicRkeys: false });
    expect(free.safeToResend).toBe(false);
    const freeMessage = free.render(shortAlert());
    expect(freeMessage.parts[0].extra?.rkey).toBeUndefined();
    await free.deliver(freeMessage, newContext());
    expect((await free.findExisting(freeMessage, newContext()))?.id).toBe(fake.records[0].uri);
  });

  it('a wrong app password is a permanent credentials failure; health says so', async () => {
    const b = channel({}, 'wrong-password');
    const err = await deliveryError(b.deliver(b.render(shortAlert()), newContext()));
    expect(err).toMatchObject({ kind: 'permanent', options: { status: 401, credentials: true } });
    const health = await b.checkHealth();
    expect(health.ok).toBe(false);
    expect(health.detail).toMatch(/credentials rejected.*Invalid identifier or password/);
  });

  it('keeps one session, refreshes it when the access token expires, and reports health', async () => {
    const b = channel();
    const health = await b.checkHealth();
    expect(health).toMatchObject({ ok: true });
    expect(health.detail).toContain(`@${BSKY_HANDLE} (${BSKY_DID})`);
    await b.deliver(b.render(shortAlert()), newContext());
    fake.expireSessions();
    await b.deliver(b.render(shortAlert({ title: 'Second test' })), newContext());
    expect(fake.records).toHaveLength(2);
    expect(fake.sessions).toBe(1);
    expect(fake.requests).toContain('POST /xrpc/com.atproto.server.refreshSession');
    fake.active = false;
    expect((await channel().checkHealth()).ok).toBe(false);
  });

  it('resumes a thread of 5 after part 3 failed: posts 3..5 only', async () => {
    const b = channel();
    const message = b.render(alertWithParts(b, 5, 150));
    fake.createScript.on(3, { status: 502, body: { error: 'UpstreamFailure', message: 'upstream failed' } });
    const context = newContext();
    const err = await deliveryError(b.deliver(message, context));
    expect(err.kind).toBe('transient');
    expect(context.recorded).toHaveLength(2);
    const resumed = newContext(context.recorded);
    await b.deliver(message, resumed);
    expect(resumed.recorded).toHaveLength(3);
    expect(fake.records).toHaveLength(5);
    expect(fake.records.map((r) => r.value.text)).toEqual(message.parts.map((p) => p.text));
    fake.records.forEach((r, i) => {
      if (i > 0) expect(r.value.reply?.parent.uri).toBe(fake.records[i - 1].uri);
      if (i > 0) expect(r.value.reply?.root.uri).toBe(fake.records[0].uri);
    });
  });
});
