import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, decodeEntities, startHarness, TOKENS, type Harness } from './harness.js';
import { prefixKeys, waitFor } from '../helpers/context.js';

// Guessing tokens: failed console sign-ins and wrong bearer tokens (admin API, /metrics, Bull
// Board) are limited per client network and per token prefix, with 429 and Retry-After. The
// server sits behind a proxy (trustProxy), so each test client can come from its own address.

const METRICS_ENV = 'TOCSIN_TEST_BRUTE_METRICS_TOKEN';
const METRICS_TOKEN = 'brute-metrics-token-0123456789';
const ADMIN_TOKEN = 'test-admin-token-0123456789'; // see test/helpers/context.ts
process.env[METRICS_ENV] = METRICS_TOKEN;

const from = (ip: string) => ({ 'x-forwarded-for': ip });
const randomToken = () => `${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;

/** A browser's sign-in: load the form (new CSRF cookie and token), post it. */
async function signIn(baseUrl: string, ip: string, token: string): Promise<Response> {
  const client = new Client(baseUrl);
  const html = await (await client.request('/console/login', { headers: from(ip) })).text();
  const csrf = decodeEntities(/name="_csrf" value="([^"]+)"/.exec(html)![1]);
  return client.request('/console/login', { method: 'POST', headers: from(ip), form: { _csrf: csrf, token, name: 'Mallory', next: '/console/alerts' } });
}

describe('token guessing', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness('console-brute', {
      overrides: {
        http: { trustProxy: true },
        authLimits: { perIp: { max: 10, windowS: 600 }, perTokenPrefix: { max: 10, windowS: 600 } },
        metrics: { tokenEnv: METRICS_ENV },
      },
    });
  });
  afterAll(async () => {
    await h.close();
  });

  it('300 wrong sign-ins from one network: 401 up to the limit, then 429 with Retry-After, the right token included; other networks sign in', async () => {
    const statuses: number[] = [];
    const waits: string[] = [];
    for (let i = 0; i < 300; i++) {
      const res = await signIn(h.baseUrl, '203.0.113.7', randomToken());
      statuses.push(res.status);
      if (res.status === 429) {
        waits.push(res.headers.get('retry-after') ?? '');
        if (i === 299) expect(await res.text()).toContain('Too many failed sign-in attempts from your network');
      }
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual(Array(290).fill(429));
    for (const w of waits) {
      expect(Number(w)).toBeGreaterThan(0);
      expect(Number(w)).toBeLessThanOrEqual(600);
    }
    // The right token from the locked-out network is refused too, or the answer would tell it apart.
    expect((await signIn(h.baseUrl, '203.0.113.7', TOKENS.publisher)).status).toBe(429);
    // Elsewhere the right token works.
    expect((await signIn(h.baseUrl, '198.51.100.20', TOKENS.publisher)).status).toBe(303);
    // Redis holds keyed hashes only: no address and no token in any key or value.
    for (const key of await prefixKeys(h.ctx)) {
      expect(key).not.toContain('203.0.113.7');
      if (key.includes(':auth-fail:')) expect(key).toMatch(/:auth-fail:(ip|prefix|form):[A-Za-z0-9_-]{32}$/);
    }
  });

  it('many networks guessing tokens that start alike: limited by the prefix, which never holds other tokens back', async () => {
    const prefix = 'guessed-';
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await signIn(h.baseUrl, `192.0.2.${i + 1}`, `${prefix}${randomToken()}`)).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual(Array(20).fill(429));
    expect((await signIn(h.baseUrl, '192.0.2.200', TOKENS.viewer)).status).toBe(303);
  });

  it('one sign-in form serves one failed attempt', async () => {
    const client = new Client(h.baseUrl);
    const ip = from('198.51.100.77');
    const html = await (await client.request('/console/login', { headers: ip })).text();
    const csrf = decodeEntities(/name="_csrf" value="([^"]+)"/.exec(html)![1]);
    const cookie = client.cookieHeader;
    const post = (token: string) =>
      fetch(`${h.baseUrl}/console/login`, {
        method: 'POST',
        headers: { ...ip, cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, token, name: 'Mallory' }).toString(),
        redirect: 'manual',
      });
    const first = await post(randomToken());
    expect(first.status).toBe(401);
    // The failure page comes with a new form.
    expect(first.headers.getSetCookie().some((c) => c.startsWith('tocsin_csrf='))).toBe(true);
    // Replaying the used form is refused, whatever the token.
    const replay = await post(randomToken());
    expect(replay.status).toBe(403);
    expect(await replay.text()).toContain('already used for a failed attempt');
    expect((await post(TOKENS.viewer)).status).toBe(403);
  });

  it('wrong admin, metrics and queue-board tokens: 429 with Retry-After past the limit; the right token elsewhere works', async () => {
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const api = (ip: string, token: string) => fetch(`${h.baseUrl}/api/alerts`, { headers: { ...from(ip), ...bearer(token) } });
    const statuses: number[] = [];
    for (let i = 0; i < 300; i++) statuses.push((await api('203.0.113.50', randomToken())).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual(Array(290).fill(429));
    const locked = await api('203.0.113.50', ADMIN_TOKEN);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await locked.json()).toMatchObject({ code: 'TOCSIN_ERR_RATE_LIMITED' });
    expect((await api('203.0.113.51', ADMIN_TOKEN)).status).toBe(200);

    const metrics = (ip: string, token: string) => fetch(`${h.baseUrl}/metrics`, { headers: { ...from(ip), ...bearer(token) } });
    for (let i = 0; i < 10; i++) expect((await metrics('203.0.113.60', randomToken())).status).toBe(401);
    const metricsLocked = await metrics('203.0.113.60', METRICS_TOKEN);
    expect(metricsLocked.status).toBe(429);
    expect(Number(metricsLocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await metrics('203.0.113.61', METRICS_TOKEN)).status).toBe(200);

    const board = (ip: string, token: string) => fetch(`${h.baseUrl}/admin/queues/api/queues`, { headers: { ...from(ip), ...bearer(token) } });
    for (let i = 0; i < 10; i++) expect((await board('203.0.113.70', randomToken())).status).toBe(401);
    const boardLocked = await board('203.0.113.70', ADMIN_TOKEN);
    expect(boardLocked.status).toBe(429);
    expect(Number(boardLocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await board('203.0.113.71', ADMIN_TOKEN)).status).toBe(200);
  });
});

describe('a full bucket', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness('console-brute-expiry', {
      overrides: { http: { trustProxy: true }, authLimits: { perIp: { max: 3, windowS: 2 }, perTokenPrefix: { max: 1000, windowS: 2 } } },
    });
  });
  afterAll(async () => {
    await h.close();
  });

  it('empties when its window ends, and the network can sign in again', async () => {
    // Fail until locked out (however slow the machine, the window cannot run out before a 429).
    let locked: Response | undefined;
    for (let i = 0; i < 50 && !locked; i++) {
      const res = await signIn(h.baseUrl, '203.0.113.9', randomToken());
      if (res.status === 429) locked = res;
    }
    expect(locked?.status).toBe(429);
    expect(Number(locked!.headers.get('retry-after'))).toBeLessThanOrEqual(2);
    const failureKeys = async () => (await prefixKeys(h.ctx)).filter((k) => k.includes(':auth-fail:ip:'));
    expect(await failureKeys()).toHaveLength(1);
    expect(await h.ctx.redis.ttl((await failureKeys())[0])).toBeGreaterThan(0);
    await waitFor(async () => (await failureKeys()).length === 0, 'the bucket to expire');
    expect((await signIn(h.baseUrl, '203.0.113.9', TOKENS.editor)).status).toBe(303);
  });
});
