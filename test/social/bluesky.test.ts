import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BlueskyChannel, blueskyLength, partRkey, tid } from '../../src/channels/social/bluesky.js';
import { BSKY_DID, BSKY_HANDLE, FakeBluesky } from '../fakes/bluesky.js';
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
    new BlueskyChannel(
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
  const createCalls = () => fake.requests.filter((r) => r === 'POST /xrpc/com.atproto.repo.createRecord').length;
  /** Every part after the first replies to the one before, under the first. */
  const expectThreaded = () => {
    const [root] = fake.records;
    fake.records.forEach((r, i) => {
      if (i === 0) expect(r.value.reply).toBeUndefined();
      else expect(r.value.reply).toEqual({ root: { uri: root.uri, cid: root.cid }, parent: { uri: fake.records[i - 1].uri, cid: fake.records[i - 1].cid } });
    });
  };

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
    const result = expectKind(await deliver(b, message), 'sent');
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
    expect(result.first).toEqual({
      id: record.uri,
      url: `https://bsky.app/profile/${BSKY_HANDLE}/post/${record.rkey}`,
      ref: { uri: record.uri, cid: record.cid },
    });
  });

  it('threads a long alert with reply refs {root, parent}, every part within 300 graphemes', async () => {
    const b = channel();
    const alert = exampleAlert();
    const message = b.render(alert);
    expect(message.parts.length).toBeGreaterThanOrEqual(2);
    expectWellFormedThread(message, blueskyLength);
    expectNothingCut(message, alert);
    expectKind(await deliver(b, message), 'sent');
    expect(fake.records.map((r) => r.value.text)).toEqual(message.parts.map((p) => p.text));
    fake.records.forEach((r, i) => {
      expect([...new Intl.Segmenter().segment(r.value.text)].length).toBeLessThanOrEqual(300);
      expect(r.rkey).toBe(partRkey(alert, 'bsky', i));
    });
    expectThreaded();
  });

  it('embeds the image with its alt text instead of a link card', async () => {
    const b = channel();
    const alert = exampleAlert(images.image());
    const message = b.render(alert);
    expectKind(await deliver(b, message), 'sent');
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
    const result = expectKind(await deliver(b, b.render(shortAlert({ image: { url: images.image('huge.png'), alt: 'Too big.' } }))), 'sent');
    expect(result.first.ref?.warning).toMatch(/image left out/);
    expect(fake.records).toHaveLength(1);
    expect(fake.records[0].value.embed).toBeUndefined();
  });

  it('on 429 reports a rate-limited retry at ratelimit-reset, and the next attempt posts', async () => {
    const reset = Math.floor(Date.now() / 1000) + 2;
    fake.createScript.on(1, {
      status: 429,
      headers: { 'ratelimit-remaining': '0', 'ratelimit-reset': String(reset) },
      body: { error: 'RateLimitExceeded', message: 'Rate Limit Exceeded' },
    });
    const b = channel();
    const message = b.render(shortAlert());
    const first = expectKind(await deliver(b, message), 'retry');
    expect(first.rateLimited).toBe(true);
    expect(first.retryAt).toBe(reset * 1000);
    expect(fake.records).toHaveLength(0);
    await sleep(Math.max(0, reset * 1000 - Date.now()));
    expectKind(await deliver(b, message, first.thread), 'sent');
    expect(fake.records).toHaveLength(1);
  });

  it('a timeout after the PDS stored the post: a retry; the resend finds the record at its key instead of duplicating', async () => {
    fake.createScript.on(1, { hangAfterStore: true });
    const b = channel({ timeoutMs: 1000 });
    const message = b.render(shortAlert());
    const lost = expectKind(await deliver(b, message), 'retry');
    expect(lost.rateLimited).toBe(false);
    expect(fake.records).toHaveLength(1);
    const found = await b.findPart(message.parts[0], positionOf(message, 0, []));
    expect(found).toMatchObject({ id: fake.records[0].uri, ref: { cid: fake.records[0].cid } });

    expect(b.safeToResend).toBe(true);
    const again = expectKind(await deliver(channel(), message, lost.thread), 'sent');
    expect(again.first.id).toBe(fake.records[0].uri);
    expect(fake.records).toHaveLength(1);
  });

  it('findPart says null for a part never stored, and finds by text and parent when record keys are off', async () => {
    const b = channel();
    const message = b.render(shortAlert());
    expect(await b.findPart(message.parts[0], positionOf(message, 0, []))).toBeNull();

    const free = channel({ deterministicRkeys: false });
    expect(free.safeToResend).toBe(false);
    const freeMessage = free.render(alertWithParts(free, 3, 150));
    expect(freeMessage.parts[0].extra?.rkey).toBeUndefined();
    const posted = await postDirectly(free, freeMessage, 2);
    expect((await free.findPart(freeMessage.parts[0], positionOf(freeMessage, 0, [])))?.id).toBe(fake.records[0].uri);
    expect((await free.findPart(freeMessage.parts[1], positionOf(freeMessage, 1, posted)))?.id).toBe(fake.records[1].uri);
    expect(await free.findPart(freeMessage.parts[2], positionOf(freeMessage, 2, posted))).toBeNull();
    expect(await free.findPart(freeMessage.parts[1], positionOf(freeMessage, 1, []))).toBeNull();
  });

  it('a wrong app password fails the delivery, flagged as credentials; health says so', async () => {
    const b = channel({}, 'wrong-password');
    const message = b.render(shortAlert());
    const result = expectKind(await deliver(b, message), 'failed');
    expect(result.reason).toMatch(/Invalid identifier or password/);
    const err = await deliveryError(b.postPart(message.parts[0], positionOf(message, 0, []), noSignal()));
    expect(err).toMatchObject({ kind: 'permanent', options: { status: 401, credentials: true } });
    expect(fake.records).toHaveLength(0);
    const health = await b.checkHealth();
    expect(health.ok).toBe(false);
    expect(health.detail).toMatch(/credentials rejected.*Invalid identifier or password/);
  });

  it('keeps one session, refreshes it when the access token expires, and reports health', async () => {
    const b = channel();
    const health = await b.checkHealth();
    expect(health).toMatchObject({ ok: true });
    expect(health.detail).toContain(`@${BSKY_HANDLE} (${BSKY_DID})`);
    expectKind(await deliver(b, b.render(shortAlert())), 'sent');
    fake.expireSessions();
    expectKind(await deliver(b, b.render(shortAlert({ title: 'Second test' }))), 'sent');
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
    const failed = expectKind(await deliver(b, message), 'retry');
    expect(failed.rateLimited).toBe(false);
    expect(failed.thread.posted).toHaveLength(2);
    const resumed = expectKind(await deliver(b, message, { posted: failed.thread.posted, begun: [] }), 'sent');
    expect(resumed.thread.begun).toEqual([2, 3, 4]);
    expect(fake.records).toHaveLength(5);
    expect(fake.records.map((r) => r.value.text)).toEqual(message.parts.map((p) => p.text));
    expectThreaded();
  });

  it('after a crash while part 3 of 4 was in flight (the PDS has it), the resend meets the record at its key and part 4 follows', async () => {
    const b = channel();
    const alert = alertWithParts(b, 4, 150);
    const message = b.render(alert);
    const [p0, p1, p2] = await postDirectly(b, message, 3);
    const result = expectKind(await deliver(b, message, { posted: [p0, p1], begun: [], inflight: 2 }), 'sent');
    expect(result.posted[2]).toEqual(p2);
    expect(fake.records).toHaveLength(4);
    expect(fake.records.map((r) => r.value.text)).toEqual(message.parts.map((p) => p.text));
    expect(fake.records.map((r) => r.rkey)).toEqual([0, 1, 2, 3].map((i) => partRkey(alert, 'bsky', i)));
    expectThreaded();
    // Three first posts, the resend the PDS refused (a record at that key exists), part 4.
    expect(createCalls()).toBe(5);
  });

  it('after a crash between parts 2 and 3 of 4, resumes at part 3', async () => {
    const b = channel();
    const message = b.render(alertWithParts(b, 4, 150));
    const [p0, p1] = await postDirectly(b, message, 2);
    const result = expectKind(await deliver(b, message, { posted: [p0, p1], begun: [] }), 'sent');
    expect(result.first.id).toBe(p0.id);
    expect(result.thread.begun).toEqual([2, 3]);
    expect(fake.records.map((r) => r.value.text)).toEqual(message.parts.map((p) => p.text));
    expectThreaded();
    expect(createCalls()).toBe(4);
  });
});
