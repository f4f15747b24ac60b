import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSubscribers } from '../helpers/fixtures.js';
import { signToken, tokenFor, type TokenPayload } from '../../src/tokens.js';
import { startHarness, linkIn, postForm, postJson, snapshot, waitForMail, type Harness } from './harness.js';

// Every page reached by a token refuses a forged, tampered, expired or wrong-purpose token with a
// clear page and a 4xx, and changes nothing: the whole key space is compared before and after.

describe('links with bad tokens', () => {
  let h: Harness;
  let confirmed: number;
  let pendingToken: string;
  let pending: TokenPayload;

  const decode = (token: string) => JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as TokenPayload;
  const encode = (payload: TokenPayload) => Buffer.from(JSON.stringify(payload)).toString('base64url');

  beforeAll(async () => {
    h = await startHarness('sub-tokens');
    [confirmed] = await seedSubscribers(
      h.ctx,
      1,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      () => 'confirmed@example.org',
    );
    await postJson(`${h.base}/api/subscribe`, { email: 'pending@example.org', countries: ['KZ'], level: 'watch' });
    const mail = await waitForMail(h.smtp, 'pending@example.org', /Confirm/);
    pendingToken = linkIn(mail, '/subscribe/confirm/').split('/').pop()!;
    pending = decode(pendingToken);
  });
  afterAll(async () => {
    await h.close();
  });

  const now = () => Math.floor(Date.now() / 1000);
  const cases = () => {
    const unsubscribe = tokenFor(h.ctx.secret, 'unsubscribe', confirmed);
    const preferences = tokenFor(h.ctx.secret, 'preferences', confirmed);
    const [body, sig] = unsubscribe.split('.');
    const other = 'another-secret-another-secret-another-secret';
    return {
      confirm: {
        forged: signToken(other, pending),
        tampered: `${encode({ ...pending, s: confirmed })}.${pendingToken.split('.')[1]}`,
        'tampered signature': `${pendingToken.split('.')[0]}.${pendingToken.split('.')[1].slice(0, -2)}AA`,
        expired: signToken(h.ctx.secret, { ...pending, e: now() - 60 }),
        'wrong purpose': unsubscribe,
        malformed: 'not-a-token',
      },
      unsubscribe: {
        forged: signToken(other, decode(unsubscribe)),
        tampered: `${encode({ ...decode(unsubscribe), s: pending.s })}.${sig}`,
        'tampered signature': `${body}.${sig.slice(0, -2)}AA`,
        expired: signToken(h.ctx.secret, { ...decode(unsubscribe), e: now() - 60 }),
        'wrong purpose': preferences,
        malformed: `${body}.`,
      },
      preferences: {
        forged: signToken(other, decode(preferences)),
        tampered: `${encode({ ...decode(preferences), s: pending.s })}.${preferences.split('.')[1]}`,
        'tampered signature': `${preferences.split('.')[0]}.${preferences.split('.')[1].slice(0, -2)}AA`,
        expired: signToken(h.ctx.secret, { ...decode(preferences), e: now() - 60 }),
        'wrong purpose': unsubscribe,
        malformed: preferences.replace('.', '..'),
      },
    };
  };
  const path = { confirm: '/subscribe/confirm/', unsubscribe: '/unsubscribe/', preferences: '/preferences/' };
  const bodies = { confirm: '', unsubscribe: 'List-Unsubscribe=One-Click', preferences: 'scope=all&level=emergency&language=en' };
  const expectedStatus: Record<string, number> = { forged: 400, tampered: 400, 'tampered signature': 400, expired: 410, 'wrong purpose': 400, malformed: 400 };
  const expectedText: Record<string, string> = {
    forged: 'not one of ours',
    tampered: 'not one of ours',
    'tampered signature': 'not one of ours',
    expired: 'has expired',
    'wrong purpose': 'meant for something else',
    malformed: 'incomplete',
  };

  for (const page of ['confirm', 'unsubscribe', 'preferences'] as const) {
    it(`${page}: forged, tampered, expired, wrong-purpose and malformed tokens are refused and change nothing`, async () => {
      const before = await snapshot(h.ctx);
      for (const [kind, token] of Object.entries(cases()[page])) {
        for (const method of ['GET', 'POST'] as const) {
          const url = `${h.base}${path[page]}${token}`;
          const res = method === 'GET' ? await fetch(url) : await postForm(url, bodies[page]);
          expect(res.status, `${method} ${page} ${kind}`).toBe(expectedStatus[kind]);
          expect(res.headers.get('content-type')).toMatch(/^text\/html/);
          const html = await res.text();
          expect(html, `${method} ${page} ${kind}`).toContain('This link does not work');
          expect(html).toContain(expectedText[kind]);
        }
      }
      expect(await snapshot(h.ctx)).toEqual(before);
    });
  }

  it('the genuine links still work afterwards, and an old confirm link dies with a newer request', async () => {
    // A second request after the window gets a new link; the first one stops working.
    await h.ctx.redis.del((await h.ctx.redis.keys(`${h.ctx.config.redis.prefix}:confirm-sent:*`))[0]);
    await postJson(`${h.base}/api/subscribe`, { email: 'pending@example.org', countries: ['UA'], level: 'warning' });
    const second = await waitForMail(h.smtp, 'pending@example.org', /Confirm/, 2);
    const oldRes = await postForm(`${h.base}/subscribe/confirm/${pendingToken}`, '');
    expect(oldRes.status).toBe(410);
    expect(await oldRes.text()).toContain('replaced by a newer one');
    expect((await h.ctx.subscribers.get(pending.s))?.status).toBe('pending');
    const ok = await postForm(linkIn(second, '/subscribe/confirm/'), '');
    expect(ok.status).toBe(200);
    expect(await h.ctx.subscribers.get(pending.s)).toMatchObject({ status: 'confirmed', countries: ['UA'], minLevel: 'warning' });

    // After an unsubscribe, the confirm link is dead too: coming back needs a fresh confirmation.
    const unsub = await postForm(`${h.base}/unsubscribe/${tokenFor(h.ctx.secret, 'unsubscribe', pending.s)}`, 'List-Unsubscribe=One-Click');
    expect(unsub.status).toBe(200);
    const replay = await postForm(linkIn(second, '/subscribe/confirm/'), '');
    expect(replay.status).toBe(410);
    expect((await h.ctx.subscribers.get(pending.s))?.status).toBe('unsubscribed');

    const prefs = await postForm(
      `${h.base}/preferences/${tokenFor(h.ctx.secret, 'preferences', confirmed)}`,
      'scope=some&countries=SD&level=emergency&language=en',
    );
    expect(prefs.status).toBe(200);
    expect(await h.ctx.subscribers.get(confirmed)).toMatchObject({ countries: ['SD'], minLevel: 'emergency' });
  });
});
