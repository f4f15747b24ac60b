import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeAlert } from '../helpers/fixtures.js';
import { renderAlertEmail } from '../../src/render/email.js';
import { tokenFor } from '../../src/tokens.js';
import { seedSubscribers } from '../helpers/fixtures.js';
import { startHarness, mailsTo, postForm, postJson, snapshot as fullSnapshot, type Harness } from './harness.js';
import type { Context } from '../../src/context.js';

/** Everything but the per-IP counters, which count every request, good or bad, by design. */
const snapshot = async (ctx: Context) => Object.fromEntries(Object.entries(await fullSnapshot(ctx)).filter(([key]) => !key.includes(':rl:ip:')));

// Hostile and malformed input: escaped, refused with a clear message naming the field, and
// nothing stored or sent.

describe('hostile input', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness('sub-hostile', { subscriptions: { rateLimits: { perIp: { max: 1000, windowS: 3600 } } } });
  });
  afterAll(async () => {
    await h.close();
  });

  it('HTML and script in form fields come back escaped, never as markup', async () => {
    const before = await snapshot(h.ctx);
    const res = await postForm(`${h.base}/subscribe`, {
      email: '"><script>alert(1)</script>',
      scope: 'some',
      countries: ['"><img src=x onerror=alert(2)>', 'KZ'],
      level: '<b>emergency</b>',
    });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<b>emergency');
    expect(html).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(html).toContain('Email address: is not a valid email address');
    expect(html).toContain('Countries: must be an ISO 3166-1 alpha-2 code such as KZ');
    expect(html).toContain('aria-invalid="true"');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await snapshot(h.ctx)).toEqual(before);

    // Preferences: the same.
    const [id] = await seedSubscribers(
      h.ctx,
      1,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      () => 'prefs@example.org',
    );
    const prefs = await postForm(`${h.base}/preferences/${tokenFor(h.ctx.secret, 'preferences', id)}`, {
      scope: 'some',
      countries: '<svg onload=alert(3)>',
      level: 'all',
      language: 'en',
    });
    expect(prefs.status).toBe(400);
    expect(await prefs.text()).not.toContain('<svg');
    expect(await h.ctx.subscribers.get(id)).toMatchObject({ countries: ['KZ'] });
  });

  it('a line break in the address is refused, naming the field; nothing is stored or sent', async () => {
    const before = await snapshot(h.ctx);
    const res = await postJson(`${h.base}/api/subscribe`, { email: 'victim@example.org\r\nBcc: everyone@example.org', countries: ['KZ'], level: 'all' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      statusCode: 400,
      code: 'TOCSIN_ERR_EMAIL_INVALID',
      error: 'Invalid email address: email: must not contain line breaks',
    });
    const formRes = await postForm(`${h.base}/subscribe`, { email: 'victim@example.org\nBcc: everyone@example.org', scope: 'all', level: 'all' });
    expect(formRes.status).toBe(400);
    expect(await formRes.text()).toContain('must not contain line breaks');
    // Other mistakes name their field too.
    const several = await postJson(`${h.base}/api/subscribe`, { email: 'ok@example.org', countries: ['XX'], level: 'severe', admin: true });
    expect(await several.json()).toMatchObject({
      code: 'TOCSIN_ERR_BODY_INVALID',
      error: expect.stringMatching(
        /countries: must be an ISO 3166-1 alpha-2 code.*level: must be one of all, watch, warning, emergency.*Unrecognized key: "admin"/,
      ),
    });
    const notJson = await postJson(`${h.base}/api/subscribe`, '{"email": ');
    expect(notJson.status).toBe(400);
    const array = await postJson(`${h.base}/api/subscribe`, [1, 2]);
    expect((await array.json()).error).toContain('expected a JSON object');
    await h.app.close();
    expect(await snapshot(h.ctx)).toEqual(before);
    expect(h.smtp.received).toEqual([]);
  });
});

describe('oversize bodies', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('sub-oversize');
  });
  afterAll(async () => {
    await h.close();
  });

  it('get 413 with a clear message, as JSON on the API and as a page on the form', async () => {
    const big = 'x'.repeat(40_000);
    const api = await postJson(`${h.base}/api/subscribe`, { email: 'big@example.org', countries: ['KZ'], level: 'all', padding: big });
    expect(api.status).toBe(413);
    expect(await api.json()).toEqual({
      statusCode: 413,
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
      error: 'Request body is too large: at most 16384 bytes are accepted here',
    });
    const page = await postForm(`${h.base}/subscribe`, { email: 'big@example.org', scope: 'all', level: 'all', website: big });
    expect(page.status).toBe(413);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('Request body is too large: at most 16384 bytes are accepted here');
    expect(await h.ctx.subscribers.getByEmail('big@example.org')).toBeNull();
  });
});

describe('abuse controls', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('sub-abuse', { subscriptions: { rateLimits: { perIp: { max: 4, windowS: 600 }, perAddress: { max: 2, windowS: 600 } } } });
  });
  afterAll(async () => {
    await h.close();
  });

  it('a filled honeypot gets the usual answer and nothing happens', async () => {
    const res = await postJson(`${h.base}/api/subscribe`, { email: 'bot-target@example.org', countries: '*', level: 'all', website: 'http://spam.example' });
    expect(res.status).toBe(202);
    await h.app.close();
    expect(await mailsTo(h.smtp, 'bot-target@example.org')).toEqual([]);
    expect(await h.ctx.subscribers.getByEmail('bot-target@example.org')).toBeNull();
  });
});

describe('rate limits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('sub-rate', { subscriptions: { rateLimits: { perIp: { max: 4, windowS: 600 }, perAddress: { max: 2, windowS: 600 } } } });
  });
  afterAll(async () => {
    await h.close();
  });

  it('limit per address and per IP with 429 and Retry-After, storing neither raw', async () => {
    const ask = (email: string) => postJson(`${h.base}/api/subscribe`, { email, countries: '*', level: 'all' });
    expect((await ask('one@example.org')).status).toBe(202);
    expect((await ask('one@example.org')).status).toBe(202);
    const perAddress = await ask('one@example.org');
    expect(perAddress.status).toBe(429);
    expect(perAddress.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await perAddress.json()).toMatchObject({
      code: 'TOCSIN_ERR_RATE_LIMITED',
      error: expect.stringMatching(/^Too many requests: too many subscription requests for this address; try again in 10 minutes$/),
    });
    expect((await ask('two@example.org')).status).toBe(202);
    const perIp = await ask('three@example.org');
    expect(perIp.status).toBe(429);
    expect((await perIp.json()).error).toContain('from your network');
    const form = await postForm(`${h.base}/subscribe`, { email: 'four@example.org', scope: 'all', level: 'all' });
    expect(form.status).toBe(429);
    expect(await form.text()).toContain('Please wait a little');

    const keys = await h.ctx.redis.keys(`${h.ctx.config.redis.prefix}:rl:*`);
    expect(keys.length).toBe(3);
    expect(keys.join(' ')).not.toMatch(/127\.0\.0\.1|example\.org/);
    // At most one confirmation mail per address, however often it was asked for.
    await h.app.close();
    expect((await mailsTo(h.smtp, 'one@example.org')).length).toBe(1);
  });
});

describe('the alert email escapes what authors wrote', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('sub-escape');
  });
  afterAll(async () => {
    await h.close();
  });

  it('renders raw HTML in the Markdown body and in the fields as text', async () => {
    const alert = await storeAlert(h.ctx, {
      title: 'Alert <script>alert(1)</script>',
      summary: 'Summary <img src=x onerror=alert(2)>',
      body: 'Body <iframe src="https://evil.example"></iframe> and [a link](javascript:alert(3)).',
      recommendations: ['<a href="https://evil.example">click</a>'],
    });
    const { html, text } = await renderAlertEmail(alert, h.ctx.config);
    expect(html).not.toMatch(/<script>alert|<img src=x|<iframe|href="javascript:|>click<\/a>/);
    expect(html).toContain('Alert &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('Body &lt;iframe');
    expect(html).toContain('&lt;a href');
    expect(text).toContain('Alert <script>alert(1)</script>');
  });
});
