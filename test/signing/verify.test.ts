import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../subscriptions/harness.js';
import { seriousViolations } from '../helpers/axe.js';
import { published, retract } from '../public/helpers.js';
import type { Alert } from '../../src/domain/alert.js';

// /verify and POST /api/verify against a listening server, and the page in Chromium: it says
// "authentic", "not from us" and "retracted" where it should, and bad input gets named errors.

describe('verify', () => {
  let h: Harness;
  let browser: Browser;
  let current: Alert;
  let retracted: Alert;
  const api = async (body: unknown) => {
    const res = await fetch(`${h.base}/api/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown> & { verdict?: string; headline?: string; details?: string[]; error?: string; code?: string },
    };
  };
  const text = async (path: string) => (await fetch(`${h.base}${path}`)).text();

  beforeAll(async () => {
    h = await startHarness('verify', { organisation: { name: 'Genocide Watch Test' } });
    current = await published(h.ctx, { slug: 'still-current', title: 'Genocide Emergency: Still current' });
    retracted = await published(h.ctx, { slug: 'later-retracted', title: 'Genocide Warning: Later retracted' });
    await retract(h.ctx, retracted, 'The source withdrew the report.');
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('a link on our origin: authentic, which version of how many, and a later retraction with its date and reason', async () => {
    const ok = await api({ url: `${h.base}/alerts/still-current` });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ verdict: 'authentic', version: 1, versions: 1, alert: { id: current.id, slug: 'still-current' } });
    expect(ok.body.headline).toBe('Authentic: this is an alert from Genocide Watch Test.');
    expect(ok.body.details!.join(' ')).toMatch(/version 1 of 1 .*This is the current version/);

    const old = await api({ url: `${h.base}/alerts/later-retracted/v/1` });
    expect(old.body).toMatchObject({
      verdict: 'authentic',
      version: 1,
      versions: 2,
      later: { status: 'retracted', version: 2, reason: 'The source withdrew the report.' },
    });
    expect(old.body.details!.join(' ')).toMatch(/later RETRACTED on .* because: The source withdrew the report\./);

    const foreign = await api({ url: 'https://evil.example/alerts/still-current' });
    expect(foreign.body).toMatchObject({ verdict: 'not-ours-to-check', headline: `This page verifies only links to ${h.base}.` });
    const missing = await api({ url: `${h.base}/alerts/never-published` });
    expect(missing.body.verdict).toBe('not-found');
  });

  it('pasted JSON: authentic with its signature, not from us when one field or the key is changed', async () => {
    const document = await text('/alerts/later-retracted/v/1.json');
    const signature = await text('/alerts/later-retracted/v/1.sig');
    const ok = await api({ json: document, signature });
    expect(ok.body).toMatchObject({ verdict: 'authentic', version: 1, versions: 2, later: { status: 'retracted' } });

    const forged = JSON.parse(document) as { alert: { countries: string[] } };
    forged.alert.countries = ['ET'];
    const bad = await api({ json: JSON.stringify(forged), signature });
    expect(bad.body.verdict).toBe('not-from-us');
    expect(bad.body.headline).toBe('Not from us: this is not an authentic alert from Genocide Watch Test.');
    expect(bad.body.details![0]).toMatch(/changed after it was signed/);

    const otherKey = { ...(JSON.parse(signature) as object), kid: 'A'.repeat(43) };
    expect((await api({ json: document, signature: otherKey })).body.details![0]).toMatch(/key Genocide Watch Test has never used/);
    // A webhook's header form is accepted too.
    const s = JSON.parse(signature) as { kid: string; sig: string };
    expect((await api({ json: document, signature: `kid=${s.kid},alg=EdDSA,sig=${s.sig}` })).body.verdict).toBe('authentic');
  });

  it('a CAP message: authentic when its XML Signature is ours, not from us when changed or unsigned', async () => {
    const xml = await text('/cap/later-retracted/v1.xml');
    expect((await api({ cap: xml })).body).toMatchObject({ verdict: 'authentic', version: 1, later: { status: 'retracted' } });
    const changed = await api({ cap: xml.replace(/<headline>[^<]*<\/headline>/, '<headline>Forged headline</headline>') });
    expect(changed.body.verdict).toBe('not-from-us');
    const unsigned = await api({ cap: xml.replace(/<Signature[\s\S]*<\/Signature>/, '') });
    expect(unsigned.body).toMatchObject({ verdict: 'not-from-us' });
    expect(unsigned.body.details![0]).toMatch(/has no signature/);
  });

  it('garbled or forged input gets an error naming the field; oversize input is refused', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{}, /body: give exactly one of url, json \(with signature\) or cap/],
      [{ url: 5 }, /url: /],
      [{ url: 'not a link' }, /url: is not a web address/],
      [{ json: '{not json', signature: 'x' }, /json: is not valid JSON/],
      [{ json: '[1,2]' }, /json: must be a JSON object/],
      [{ json: '{"id":"x"}' }, /signature: is missing/],
      [{ json: '{"id":"x"}', signature: '{"kid":' }, /signature: is not valid JSON/],
      [{ url: `${h.base}/`, cap: '<alert/>' }, /give exactly one/],
      [{ url: `${h.base}/`, extra: 1 }, /Unrecognized key.*extra/],
      [{ signature: 'kid=a,sig=b', url: `${h.base}/` }, /signature: goes with json/],
    ];
    for (const [body, message] of cases) {
      const res = await api(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe('TOCSIN_ERR_BODY_INVALID');
      expect(res.body.error, JSON.stringify(body)).toMatch(message);
    }
    const huge = await fetch(`${h.base}/api/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cap: 'x'.repeat(300_000) }),
    });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { error: string }).error).toMatch(/too large: at most 262144 bytes/);
    const long = await api({ cap: 'x'.repeat(200_001) });
    expect(long.body.error).toMatch(/cap: must be at most 200000 characters/);
    // The page refuses an oversize CAP file in its own words, as a page.
    const form = new FormData();
    form.append('check', 'cap');
    form.append('capFile', new Blob(['x'.repeat(300_000)], { type: 'application/xml' }), 'huge.xml');
    const page = await fetch(`${h.base}/verify`, { method: 'POST', body: form });
    expect(page.status).toBe(413);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toMatch(/That could not be checked\.[\s\S]*larger than 262144 bytes/);
  });

  it('the page, in Chromium without scripts: authentic, not from us, retracted, and a foreign link', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page: Page = await context.newPage();
    const headline = async () => (await page.locator('#verify-result').innerText()).replace(/\s+/g, ' ');

    await page.goto(`${h.base}/verify`);
    await page.fill('#verify-url', `${h.base}/alerts/still-current`);
    await page.click('button[value="url"]');
    expect(await headline()).toMatch(/^Authentic: this is an alert from Genocide Watch Test\..*version 1 of 1/);

    // The link from the alert's own page checks that page.
    await page.goto(`${h.base}/alerts/later-retracted/v/1`);
    await page.click('text=check that this alert is authentic');
    expect(await headline()).toMatch(/Authentic.*version 1 of 2.*later RETRACTED on .* because: The source withdrew the report\./);

    await page.goto(`${h.base}/verify`);
    const forged = (await text('/alerts/still-current.json')).replace('Still current', 'Still current, forged');
    await page.fill('#verify-json', forged);
    await page.fill('#verify-signature', await text('/alerts/still-current.sig'));
    await page.click('button[value="json"]');
    expect(await headline()).toMatch(/^Not from us: this is not an authentic alert from Genocide Watch Test\./);

    await page.goto(`${h.base}/verify`);
    await page.setInputFiles('#verify-cap-file', {
      name: 'alert.xml',
      mimeType: 'application/xml',
      buffer: Buffer.from(await text('/cap/later-retracted.xml')),
    });
    await page.click('button[value="cap"]');
    expect(await headline()).toMatch(/^Authentic.*version 2 of 2 \(the retraction\).*retracted the alert because: The source withdrew the report\./);

    await page.goto(`${h.base}/verify`);
    await page.fill('#verify-url', 'https://elsewhere.example/alerts/still-current');
    await page.click('button[value="url"]');
    expect(await headline()).toContain(`This page verifies only links to ${h.base}.`);

    await page.goto(`${h.base}/verify`);
    await page.click('button[value="json"]');
    expect(await headline()).toMatch(/That could not be checked\. .*json: must not be empty/);
    await context.close();

    // Accessibility, as the other public pages: axe finds nothing serious or critical.
    const withScripts = await browser.newPage();
    const response = await withScripts.goto(`${h.base}/verify?url=${encodeURIComponent(`${h.base}/alerts/still-current`)}`);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
    expect(await seriousViolations(withScripts)).toEqual([]);
    await withScripts.close();
  }, 120_000);
});
