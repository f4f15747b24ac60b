import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startHarness, type Harness } from '../subscriptions/harness.js';
import { seriousViolations } from '../helpers/axe.js';
import { storeAlert } from '../helpers/fixtures.js';
import { correct, hostileInput, OUT, published, retract } from './helpers.js';

// Every public page in real Chromium at 375 and 1280 px: a screenshot of each in test-results/,
// no sideways scrolling, axe-core finds nothing serious or critical, hostile alert text never runs,
// the page works from the keyboard, and the print stylesheet leaves the forms out.

const WIDTHS = [375, 1280] as const;
const PAGES: Array<[name: string, path: string]> = [
  ['home', '/'],
  ['archive', '/alerts'],
  ['archive-filtered', '/alerts?country=KZ&level=emergency&year=2022'],
  ['alert', '/alerts/browser-alert'],
  ['alert-corrected', '/alerts/browser-corrected'],
  ['alert-earlier-version', '/alerts/browser-corrected/v/1'],
  ['alert-retracted', '/alerts/browser-retracted'],
  ['alert-hostile', '/alerts/browser-hostile'],
  ['country', '/countries/KZ'],
  ['country-without-alerts', '/countries/NO'],
  ['not-found', '/alerts/browser-draft'],
];

describe('public pages in Chromium', () => {
  let h: Harness;
  let browser: Browser;
  const dialogs: string[] = [];

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    h = await startHarness('public-browser', {
      public: {
        follow: [
          { name: 'Mastodon', url: 'https://social.example/@watch' },
          { name: 'Bluesky', url: 'https://bsky.example/profile/watch' },
        ],
        countryReports: { KZ: 'https://example.org/reports/kz' },
      },
    });
    // The pages' own images would be fetched from the internet; they are answered here instead.
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    await published(h.ctx, { slug: 'browser-alert' });
    const corrected = await published(h.ctx, {
      slug: 'browser-corrected',
      title: 'Genocide Warning: Ethiopia, Amhara region',
      countries: ['ET'],
      level: 'warning',
      image: undefined,
    });
    await correct(
      h.ctx,
      corrected,
      { summary: 'Militias have attacked villages in the north; the number displaced is now put at tens of thousands.' },
      'The first version gave the wrong region.',
      new Date(Date.now() + 1000),
    );
    const retracted = await published(h.ctx, {
      slug: 'browser-retracted',
      title: 'Genocide Watch: Guatemala',
      countries: ['GT'],
      level: 'watch',
      attachments: [],
    });
    await retract(h.ctx, retracted, 'the reports it relied on could not be confirmed.', new Date(Date.now() + 2000));
    await published(h.ctx, { slug: 'browser-hostile', ...hostileInput() });
    await storeAlert(h.ctx, { slug: 'browser-draft' });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  async function open(path: string, width: number): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    page.on('dialog', (d) => {
      dialogs.push(`${path}: ${d.message()}`);
      void d.dismiss();
    });
    // Images live on other hosts; answer them with nothing so the test needs no network.
    await page.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.fulfill({ status: 204, body: '' }));
    await page.goto(`${h.base}${path}`);
    return page;
  }

  for (const width of WIDTHS) {
    for (const [name, path] of PAGES) {
      it(`${name} at ${width} px: screenshot, no sideways scroll, no serious axe violations, no markup from the alert`, async () => {
        const page = await open(path, width);
        await page.screenshot({ path: `${OUT}public-${name}-${width}.png`, fullPage: true });
        const scroll = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
        expect(scroll.scroll, `${name} scrolls sideways at ${width}`).toBeLessThanOrEqual(scroll.client);
        expect(await seriousViolations(page), name).toEqual([]);
        expect(await page.locator('h1').count(), name).toBe(1);
        // The hostile alert is listed on several of these pages: nothing of it may become markup.
        const markup = await page.evaluate(() => ({
          scripts: [...document.querySelectorAll('script')].map((s) => s.type),
          handlers: [...document.querySelectorAll('*')].flatMap((el) => el.getAttributeNames().filter((n) => n.startsWith('on'))),
        }));
        expect(markup, name).toEqual({ scripts: ['application/ld+json'], handlers: [] });
        await page.close();
      });
    }
  }

  it('hostile alert text shows as text, nothing from it runs, and the only script element is JSON-LD', async () => {
    const page = await open('/alerts/browser-hostile', 1280);
    expect(await page.locator('h1').textContent()).toBe('Warning <script>alert("title")</script> "Darfur" ]]> & more');
    const found = await page.evaluate(() => ({
      scripts: [...document.querySelectorAll('script')].map((s) => s.type),
      handlers: [...document.querySelectorAll('*')].flatMap((el) => el.getAttributeNames().filter((n) => n.startsWith('on'))),
      jsLinks: [...document.querySelectorAll('[href], [src]')].filter((el) => /^\s*javascript:/i.test(el.getAttribute('href') ?? el.getAttribute('src') ?? ''))
        .length,
      svg: document.querySelectorAll('svg, main img[src="x"]').length,
    }));
    expect(found).toEqual({ scripts: ['application/ld+json'], handlers: [], jsLinks: 0, svg: 0 });
    // JSON-LD is data: it parses, and carries the title as text.
    const ld = JSON.parse((await page.locator('script[type="application/ld+json"]').textContent()) ?? '');
    expect(ld.headline).toBe('Warning <script>alert("title")</script> "Darfur" ]]> & more');
    await page.close();
    expect(dialogs).toEqual([]);
  });

  it('no page opened a dialog', () => {
    expect(dialogs).toEqual([]);
  });

  it('works from the keyboard: the skip link, then the filters and the subscribe box', async () => {
    const page = await open('/alerts', 1280);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => location.hash)).toBe('#main');
    await page.getByLabel('Country').selectOption('KZ');
    await page.getByLabel('Country').focus();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Show alerts');
    await page.keyboard.press('Enter');
    await page.waitForURL(/country=KZ/);
    expect(await page.locator('h1').textContent()).toBe('Alerts: about Kazakhstan');
    await page.close();

    const alertPage = await open('/alerts/browser-alert', 375);
    await alertPage.getByLabel('Email address').fill('reader@example.org');
    expect(await alertPage.getByRole('checkbox', { name: 'Kazakhstan' }).isChecked()).toBe(true);
    await alertPage.getByRole('button', { name: 'Subscribe' }).click();
    await alertPage.waitForURL(/\/subscribe\/check-email$/);
    await alertPage.close();
  });

  it('prints without navigation, forms or share links, and keeps the retraction notice', async () => {
    const page = await open('/alerts/browser-retracted', 1280);
    await page.emulateMedia({ media: 'print' });
    await page.screenshot({ path: `${OUT}public-alert-retracted-print.png`, fullPage: true });
    const visible = async (selector: string) => page.locator(selector).first().isVisible();
    expect(await visible('.subscribe-box')).toBe(false);
    expect(await visible('header.site nav')).toBe(false);
    expect(await visible('.share')).toBe(false);
    expect(await visible('.banner.retracted')).toBe(true);
    await page.pdf({ path: `${OUT}public-alert-retracted.pdf` });
    await page.close();
  });
});
