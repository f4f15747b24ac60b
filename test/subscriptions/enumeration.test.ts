import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/context.js';
import { seedSubscribers } from '../helpers/fixtures.js';
import { suppress } from '../../src/subscriptions/suppression.js';
import { eraseSubscriber } from '../../src/subscriptions/erase.js';
import { recordBounce } from '../../src/subscriptions/bounces/policy.js';
import { rawExchange } from '../helpers/raw-http.js';
import { startHarness, mailsTo, postForm, postJson, waitForMail, type Harness } from './harness.js';

// Nobody may learn from the subscribe endpoint whether an address is known. The answer (status,
// headers, body) is the same for a new, pending, confirmed or suppressed address; the work that
// differs happens after the response is sent (see src/subscriptions/subscribe.ts).

const ADDRESSES = {
  new: 'brand.new@example.org',
  pending: 'waiting@example.org',
  confirmed: 'already.in@example.org',
  unsubscribed: 'left.us@example.org',
  complained: 'said.spam@example.org',
  erased: 'erased.person@example.org',
  bounced: 'no.such.user@example.org',
  bouncedStranger: 'never.subscribed@example.org',
} as const;

type Answer = { status: number; headers: Record<string, string>; body: string };

async function answer(res: Response): Promise<Answer> {
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (name !== 'date') headers[name] = value;
  });
  return { status: res.status, headers, body: await res.text() };
}

describe('subscribe answers do not reveal who is subscribed', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness('sub-enum', { subscriptions: { rateLimits: { perIp: { max: 1000, windowS: 3600 } } } });
    const { ctx } = h;
    // pending: asked a moment ago and got its confirmation mail.
    expect((await postJson(`${h.base}/api/subscribe`, { email: ADDRESSES.pending, countries: '*', level: 'all' })).status).toBe(202);
    await waitForMail(h.smtp, ADDRESSES.pending, /Confirm/);
    h.smtp.received.length = 0;
    await seedSubscribers(
      ctx,
      1,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      () => ADDRESSES.confirmed,
    );
    const [left] = await seedSubscribers(
      ctx,
      1,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      () => ADDRESSES.unsubscribed,
    );
    await ctx.subscribers.update(left, { status: 'unsubscribed' });
    await suppress(ctx, ADDRESSES.unsubscribed);
    const [spam] = await seedSubscribers(
      ctx,
      1,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      () => ADDRESSES.complained,
    );
    await ctx.subscribers.update(spam, { status: 'complained' });
    await suppress(ctx, ADDRESSES.complained);
    await seedSubscribers(
      ctx,
      1,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      () => ADDRESSES.erased,
    );
    await eraseSubscriber(ctx, ADDRESSES.erased);
    // bounced: a subscriber whose mailbox does not exist (one hard bounce suppresses, the default policy).
    await seedSubscribers(
      ctx,
      1,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      () => ADDRESSES.bounced,
    );
    expect(await recordBounce(ctx, { email: ADDRESSES.bounced, kind: 'hard', detail: '550 5.1.1 user unknown' }, 'test')).toBe('suppressed');
    // bouncedStranger: a hard bounce reported for an address that never subscribed.
    expect(await recordBounce(ctx, { email: ADDRESSES.bouncedStranger, kind: 'hard', detail: '550 5.1.1 user unknown' }, 'test')).toBe('suppressed');
  });
  afterAll(async () => {
    await h.close();
  });

  it('answers the JSON API and the form identically for every kind of address', async () => {
    const json: Record<string, Answer> = {};
    const forms: Record<string, Answer> = {};
    for (const [kind, email] of Object.entries(ADDRESSES)) {
      json[kind] = await answer(await postJson(`${h.base}/api/subscribe`, { email, countries: ['KZ'], level: 'warning' }));
      forms[kind] = await answer(await postForm(`${h.base}/subscribe`, { email, scope: 'some', countries: 'KZ', level: 'warning' }));
    }
    expect(json.new).toMatchObject({ status: 202, body: expect.stringContaining('"status":"accepted"') });
    expect(forms.new).toMatchObject({ status: 303, headers: expect.objectContaining({ location: '/subscribe/check-email' }) });
    for (const kind of Object.keys(ADDRESSES)) {
      expect(json[kind], kind).toEqual(json.new);
      expect(forms[kind], kind).toEqual(forms.new);
    }
    // Case and spaces change nothing either.
    expect(await answer(await postJson(`${h.base}/api/subscribe`, { email: '  Already.In@Example.org ', countries: ['KZ'], level: 'warning' }))).toEqual(
      json.new,
    );

    // Behind the identical answers: mail only where it is due, and at most one per address per window.
    await h.app.close();
    const count = async (email: string) => (await mailsTo(h.smtp, email)).length;
    await waitFor(async () => (await count(ADDRESSES.new)) === 1, 'the new address to get its confirmation');
    expect(await count(ADDRESSES.new)).toBe(1); // two requests, one window: one mail
    expect(await count(ADDRESSES.pending)).toBe(0); // already mailed in this window
    expect(await count(ADDRESSES.confirmed)).toBe(1); // may confirm new choices
    expect(await count(ADDRESSES.unsubscribed)).toBe(1); // may come back, with a fresh confirmation
    // Suppressed: never mailed again, not even to confirm.
    expect(await count(ADDRESSES.complained)).toBe(0); // reported us as spam
    expect(await count(ADDRESSES.erased)).toBe(0); // asked to be forgotten
    expect(await count(ADDRESSES.bounced)).toBe(0); // the mailbox does not exist
    expect(await count(ADDRESSES.bouncedStranger)).toBe(0);
    // Nothing about an existing subscription changed before its owner confirmed.
    expect(await h.ctx.subscribers.getByEmail(ADDRESSES.confirmed)).toMatchObject({ status: 'confirmed', minLevel: 'all' });
    expect(await h.ctx.subscribers.getByEmail(ADDRESSES.unsubscribed)).toMatchObject({ status: 'unsubscribed' });
    expect(await h.ctx.subscribers.getByEmail(ADDRESSES.bounced)).toMatchObject({ status: 'bounced' });
    // No record is made for a suppressed address that had none.
    expect(await h.ctx.subscribers.getByEmail(ADDRESSES.erased)).toBeNull();
    expect(await h.ctx.subscribers.getByEmail(ADDRESSES.bouncedStranger)).toBeNull();
  });
});

describe('a suppressed address gets the same bytes as a new one', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness('sub-bytes', { subscriptions: { rateLimits: { perIp: { max: 1000, windowS: 3600 } } } });
    await recordBounce(h.ctx, { email: 'gone@example.org', kind: 'hard', detail: '550 5.1.1 user unknown' }, 'test');
  });
  afterAll(async () => {
    await h.close();
  });

  // The raw response off the socket, with only the Date line taken out: header order, casing and
  // every byte of the body must match.
  const request = (path: string, contentType: string, body: string) =>
    rawExchange(
      h.base,
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    ).then((raw) => raw.replace(/^date: .*\r\n/im, ''));

  it('answers byte for byte the same and mails only the new address', async () => {
    const json = (email: string) => request('/api/subscribe', 'application/json', JSON.stringify({ email, countries: '*', level: 'all' }));
    const form = (email: string) =>
      request('/subscribe', 'application/x-www-form-urlencoded', new URLSearchParams({ email, scope: 'all', level: 'all' }).toString());
    const fresh = await json('fresh@example.org');
    expect(fresh).toMatch(/^HTTP\/1\.1 202 /);
    expect(await json('gone@example.org')).toBe(fresh);
    const freshForm = await form('fresh2@example.org');
    expect(freshForm).toMatch(/^HTTP\/1\.1 303 /);
    expect(await form('gone@example.org')).toBe(freshForm);

    await h.app.close(); // finishes the work queued after the responses
    expect((await mailsTo(h.smtp, 'fresh@example.org')).length).toBe(1);
    expect((await mailsTo(h.smtp, 'fresh2@example.org')).length).toBe(1);
    expect((await mailsTo(h.smtp, 'gone@example.org')).length).toBe(0);
    expect(h.smtp.recipients().sort()).toEqual(['fresh2@example.org', 'fresh@example.org']);
  });
});
