import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../subscriptions/harness.js';
import { storeAlert } from '../helpers/fixtures.js';
import { schedulePublish } from '../../src/publish/schedule.js';
import { approveAlert } from '../../src/publish/approval.js';
import { correct, published, retract } from './helpers.js';

// The public pages over HTTP, against a listening server: only published alerts are public, by
// any address; 404s are the same bytes whatever the reason; caching answers 304.

const get = (h: Harness, path: string, headers: Record<string, string> = {}) => fetch(`${h.base}${path}`, { headers, redirect: 'manual' });

/** Headers a 404 would differ by if it leaked anything; the date is the only one that may change. */
const comparable = (r: Response) => [...r.headers].filter(([k]) => k !== 'date');

/** An attribute value as the browser reads it (Handlebars writes "=" as &#x3D;, and so on). */
const attr = (s: string) =>
  s
    .replace(/&#x3D;/g, '=')
    .replace(/&#x27;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

describe('public pages', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness('public-pages', {
      public: { follow: [{ name: 'Mastodon', url: 'https://social.example/@watch' }], countryReports: { KZ: 'https://example.org/reports/kazakhstan' } },
    });
  });
  afterAll(async () => h?.close());

  it('a draft, approved or scheduled alert gives the same 404 as a slug that never existed, everywhere', async () => {
    const draft = await storeAlert(h.ctx, { slug: 'secret-draft', title: 'Secret draft title' });
    const approved = await storeAlert(h.ctx, { slug: 'secret-approved', title: 'Secret approved title' });
    await approveAlert(h.ctx, approved.id, 'second-person');
    const scheduled = await storeAlert(h.ctx, { slug: 'secret-scheduled', title: 'Secret scheduled title' });
    await schedulePublish(h.ctx, scheduled.id, new Date(Date.now() + 3600_000), 'publisher');
    expect((await h.ctx.alerts.get(approved.id))?.status).toBe('approved');
    expect((await h.ctx.alerts.get(scheduled.id))?.status).toBe('scheduled');

    const never = await get(h, '/alerts/never-existed-at-all');
    const neverBody = await never.text();
    expect(never.status).toBe(404);
    for (const slug of [draft.slug, approved.slug, scheduled.slug]) {
      const r = await get(h, `/alerts/${slug}`);
      expect(r.status).toBe(404);
      expect(await r.text()).toBe(neverBody);
      expect(comparable(r)).toEqual(comparable(never));
      for (const path of [`/alerts/${slug}/v/1`, `/cap/${slug}.xml`, `/cap/${slug}/v1.xml`]) expect((await get(h, path)).status).toBe(404);
    }
    // Absent from every list, feed and the sitemap.
    for (const path of [
      '/',
      '/alerts',
      '/countries/KZ',
      '/feeds/alerts.atom',
      '/feeds/alerts.rss',
      '/feeds/alerts.json',
      '/feeds/countries/KZ.atom',
      '/feeds/levels/watch.rss',
      '/cap/index.atom',
      '/sitemap.xml',
    ]) {
      const body = await (await get(h, path)).text();
      for (const secret of ['secret-draft', 'secret-approved', 'secret-scheduled', 'Secret draft', 'Secret approved', 'Secret scheduled'])
        expect(body, `${path} shows ${secret}`).not.toContain(secret);
    }
  });

  it('a scheduled alert appears the moment it is published, in the page, the lists, the feeds and the sitemap', async () => {
    const alert = await storeAlert(h.ctx, { slug: 'appears-on-publish', title: 'Appears on publish' });
    await schedulePublish(h.ctx, alert.id, new Date(Date.now() + 3600_000), 'publisher');
    expect((await get(h, '/alerts/appears-on-publish')).status).toBe(404);
    const { publishAlert } = await import('../../src/publish/publish.js');
    await publishAlert(h.ctx, alert.id, 'publisher', { from: ['scheduled'] });
    const page = await get(h, '/alerts/appears-on-publish');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<h1 id="alert-title">Appears on publish</h1>');
    for (const path of ['/', '/alerts', '/feeds/alerts.atom', '/sitemap.xml']) expect(await (await get(h, path)).text()).toContain('appears-on-publish');
  });

  it('the alert page carries everything the email does, and the head links, cards and JSON-LD', async () => {
    const alert = await published(h.ctx, { slug: 'full-page' });
    const r = await get(h, '/alerts/full-page');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(r.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    const html = await r.text();
    expect(html).toContain(`<h1 id="alert-title">${alert.title}</h1>`);
    expect(html).toContain('<time datetime="2022-01-08T12:00:00Z">8 January 2022</time>');
    expect(html).toContain('Genocide Emergency');
    expect(html).toContain('<a href="/countries/KZ">Kazakhstan</a> · Almaty and the western oil towns');
    expect(html).toContain(`alt="${alert.image!.alt}"`);
    expect(html).toContain(`<a href="${alert.image!.creditUrl}" rel="noopener noreferrer">${alert.image!.credit}</a>`);
    expect(html).toContain('Stage 4 of 10:</span> Dehumanization');
    expect(html).toContain(`<li>${alert.recommendations[0]}</li>`);
    expect(html).toContain('(PDF, 85 KB)');
    expect(html).toContain('href="https://example.org/reports/kazakhstan"');
    expect(html).toContain('href="https://social.example/@watch" rel="me noopener">Mastodon</a>');
    expect(html).toMatch(/<input type="checkbox" name="countries" value="KZ" id="sub-country-KZ" checked>/);
    expect(html).toContain(`<link rel="canonical" href="${h.base}/alerts/full-page">`);
    expect(html).toContain(`<meta property="og:image:alt" content="${alert.image!.alt}">`);
    expect(html).toContain(`<link rel="alternate" type="application/cap+xml" title="This alert as a CAP 1.2 message" href="${h.base}/cap/full-page.xml">`);
    expect(html).toContain(`href="${h.base}/feeds/countries/KZ.atom"`);
    expect(attr(html)).toContain(`https://x.com/intent/post?text=${encodeURIComponent(alert.title)}&url=${encodeURIComponent(`${h.base}/alerts/full-page`)}`);
    const ld = JSON.parse(/<script type="application\/ld\+json">(.*?)<\/script>/s.exec(html)![1]);
    expect(ld).toMatchObject({ '@type': 'NewsArticle', headline: alert.title, datePublished: '2022-01-08T12:00:00Z' });
  });

  it('with a canonicalUrl the page still exists and declares the organisation page canonical', async () => {
    await published(h.ctx, { slug: 'has-canonical', canonicalUrl: 'https://example.org/alerts/the-original' });
    const html = await (await get(h, '/alerts/has-canonical')).text();
    expect(html).toContain('<link rel="canonical" href="https://example.org/alerts/the-original">');
    expect(html).toContain('<meta property="og:url" content="https://example.org/alerts/the-original">');
  });

  it('answers ETag and Last-Modified with 304, and a correction changes both', async () => {
    const alert = await published(h.ctx, { slug: 'cached-page' });
    const first = await get(h, '/alerts/cached-page');
    const etag = first.headers.get('etag')!;
    const lastModified = first.headers.get('last-modified')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(first.headers.get('cache-control')).toBe('public, max-age=60');
    expect((await get(h, '/alerts/cached-page', { 'if-none-match': etag })).status).toBe(304);
    expect((await get(h, '/alerts/cached-page', { 'if-modified-since': lastModified })).status).toBe(304);
    for (const path of ['/feeds/alerts.atom', '/cap/cached-page.xml', '/sitemap.xml', '/']) {
      const r = await get(h, path);
      expect((await get(h, path, { 'if-none-match': r.headers.get('etag')! })).status, path).toBe(304);
    }
    await correct(h.ctx, alert, { summary: 'A corrected summary.' }, 'The summary gave the wrong date.', new Date(Date.now() + 2000));
    const after = await get(h, '/alerts/cached-page', { 'if-none-match': etag });
    expect(after.status).toBe(200);
    expect(after.headers.get('etag')).not.toBe(etag);
    expect(Date.parse(after.headers.get('last-modified')!)).toBeGreaterThan(Date.parse(lastModified));
    expect(await after.text()).toContain('A corrected summary.');
  });

  it('shows a correction with its banner and earlier versions, and a retraction prominently with the text kept', async () => {
    const alert = await published(h.ctx, { slug: 'versioned', title: 'Versioned alert' });
    await correct(h.ctx, alert, { title: 'Versioned alert, corrected' }, 'The date of the protests was wrong.', new Date('2030-02-03T10:00:00Z'));
    let html = await (await get(h, '/alerts/versioned')).text();
    expect(html).toContain(
      '<strong>Corrected on <time datetime="2030-02-03T10:00:00.000Z">3 February 2030</time>:</strong> The date of the protests was wrong.',
    );
    expect(html).toContain('<h1 id="alert-title">Versioned alert, corrected</h1>');
    expect(html).toContain('<a href="/alerts/versioned/v/1">Version 1 (original)</a>');
    const v1 = await (await get(h, '/alerts/versioned/v/1')).text();
    expect(v1).toContain('<h1 id="alert-title">Versioned alert</h1>');
    expect(v1).toContain('This is version 1 of 2');
    expect((await get(h, '/alerts/versioned/v/3')).status).toBe(404);

    await retract(h.ctx, alert, 'the source of the reports was not reliable.', new Date('2030-02-04T10:00:00Z'));
    html = await (await get(h, '/alerts/versioned')).text();
    expect(html).toContain(
      '<strong>Retracted on <time datetime="2030-02-04T10:00:00.000Z">4 February 2030</time></strong> because the source of the reports was not reliable.',
    );
    expect(html).toContain('<h1 id="alert-title">Versioned alert, corrected</h1>');
    expect(html).toContain('"creativeWorkStatus":"Retracted"');
    expect(await (await get(h, '/alerts')).text()).toMatch(/Retracted<\/span>[\s\S]*Versioned alert, corrected/);
  });

  it('links an alert that updates another both ways', async () => {
    const first = await published(h.ctx, { slug: 'first-of-two', title: 'First of two' });
    await published(h.ctx, { slug: 'second-of-two', title: 'Second of two', updates: first.id });
    expect(await (await get(h, '/alerts/second-of-two')).text()).toContain('This alert updates <a href="/alerts/first-of-two">First of two</a>');
    expect(await (await get(h, '/alerts/first-of-two')).text()).toContain('Updated by <a href="/alerts/second-of-two">Second of two</a>');
  });

  it('the archive filters by country, level and year and pages with a cursor; a country page shows its current level', async () => {
    const h2 = await startHarness('public-archive', { public: { pageSize: 5 } });
    try {
      for (let i = 0; i < 12; i++) {
        await published(h2.ctx, {
          slug: `ua-${i}`,
          title: `Ukraine alert ${i}`,
          countries: ['UA'],
          level: i % 2 ? 'warning' : 'watch',
          issuedAt: new Date(Date.UTC(2020 + (i % 3), 0, 1 + i)).toISOString(),
        });
      }
      await published(h2.ctx, { slug: 'sd-only', title: 'Sudan report', countries: ['SD'], level: null, issuedAt: '2024-05-01T00:00:00Z' });
      const titles = (html: string) => [...html.matchAll(/<h3 id="card-[^"]+"><a href="\/alerts\/([^"]+)">/g)].map((m) => m[1]);

      const seen: string[] = [];
      let path: string | undefined = '/alerts?country=UA';
      for (let pages = 0; path && pages < 10; pages++) {
        const html: string = await (await get(h2, path)).text();
        seen.push(...titles(html));
        const next: string | undefined = /<a href="([^"]+)" rel="next">/.exec(html)?.[1];
        path = next && attr(next);
      }
      expect(seen).toHaveLength(12);
      expect(new Set(seen).size).toBe(12);
      expect(seen[0]).toBe('ua-11');

      const warnings2021 = titles(await (await get(h2, '/alerts?country=UA&level=warning&year=2021')).text());
      expect(warnings2021.sort()).toEqual(['ua-1', 'ua-7']);
      expect(titles(await (await get(h2, '/alerts?level=report')).text())).toEqual(['sd-only']);
      const bad = await get(h2, '/alerts?level=catastrophe');
      expect(bad.status).toBe(400);
      expect(await bad.text()).toContain('TOCSIN_ERR_BODY_INVALID');

      const country = await (await get(h2, '/countries/UA')).text();
      expect(country).toMatch(/Current level: <span class="chip level-warning">Genocide Warning<\/span>, since <a href="\/alerts\/ua-11">/);
      expect(country).toContain('href="/feeds/countries/UA.atom"');
      expect((await get(h2, '/countries/ua')).headers.get('location')).toBe('/countries/UA');
      expect((await get(h2, '/countries/XX')).status).toBe(404);
    } finally {
      await h2.close();
    }
  });

  it('robots.txt and the sitemap', async () => {
    const robots = await (await get(h, '/robots.txt')).text();
    expect(robots).toContain('Disallow: /console');
    expect(robots).toContain(`Sitemap: ${h.base}/sitemap.xml`);
    const sitemap = await (await get(h, '/sitemap.xml')).text();
    expect(sitemap).toContain(`<loc>${h.base}/alerts/full-page</loc>`);
    expect(sitemap).toContain(`<loc>${h.base}/countries/KZ</loc>`);
  });

  it('with the site turned off, pages are gone but feeds, CAP and robots.txt are served', async () => {
    const off = await startHarness('public-off', { public: { site: { enabled: false } } });
    try {
      await published(off.ctx, { slug: 'off-site' });
      expect((await get(off, '/alerts/off-site')).status).toBe(404);
      expect((await get(off, '/')).status).toBe(404);
      expect((await get(off, '/sitemap.xml')).status).toBe(404);
      expect((await get(off, '/feeds/alerts.atom')).status).toBe(200);
      expect((await get(off, '/cap/off-site.xml')).status).toBe(200);
      expect(await (await get(off, '/robots.txt')).text()).not.toContain('Sitemap');
    } finally {
      await off.close();
    }
  });
});
