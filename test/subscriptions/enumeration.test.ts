import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/context.js';
import { seedSubscribers } from '../helpers/fixtures.js';
import { suppress } from '../../src/subscriptions/suppression.js';
import { eraseSubscriber } from '../../src/subscriptions/erase.js';
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
    expect(await count(ADDRESSES.erased)).toBe(1); // likewise
    expect(await count(ADDRESSES.complained)).toBe(0); // reported us as spam: never mailed again
    // Nothing about an existing subscription changed before its owner confirmed.
    expect(await h.ctx.subscribers.getByEmail(ADDRESSES.confirmed)).toMatchObject({ status: 'confirmed', minLevel: 'all' });
    expect(await h.ctx.subscribers.getByEmail(ADDRESSES.unsubscribed)).toMatchObject({ status: 'unsubscribed' });
  });
});
