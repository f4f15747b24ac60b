import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { PNG } from 'pngjs';
import pixelmatch from 'pixelmatch';
import { loadConfig } from '../../src/config/load.js';
import { newAlert } from '../../src/domain/alert.js';
import { parseAlertMarkdown } from '../../src/domain/parse.js';
import { personalise, renderAlertEmail } from '../../src/render/email.js';
import { exampleAlertSource } from '../helpers/fixtures.js';

// The alert email, rendered with the MJML installed now, must look like the committed reference
// screenshots (taken with MJML 4 before the upgrade to 5) at a phone's and a desktop's width.
// `UPDATE_SCREENSHOTS=1 npx vitest run test/render` rewrites the references after a deliberate
// change to the template. The actual screenshots and the pixel diffs go to test-results/.

const REFERENCE = new URL('./reference/', import.meta.url).pathname;
const FONTS_CONF = new URL('./dejavu-only.fonts.conf', import.meta.url).pathname;
const OUT = new URL('../../test-results/email-screenshots/', import.meta.url).pathname;
// Anti-aliasing and sub-pixel text may move a little between versions; a lost block, a changed
// colour or a reflowed paragraph changes far more than this share of the page.
const MAX_DIFFERENT_SHARE = 0.005;

/** A plain 16:9 picture standing in for the alert's photo, so the screenshots show the real layout. */
function placeholderPhoto(width = 1200, height = 675): Buffer {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) png.data.set([90 + (y >> 3), 100 + (x >> 4), 110, 255], (y * width + x) * 4);
  return PNG.sync.write(png);
}

/** Both images on one canvas of the larger size; what one lacks is transparent, so it counts as different. */
function padTo(png: PNG, width: number, height: number): Buffer {
  const out = new PNG({ width, height });
  for (let y = 0; y < png.height; y++) png.data.copy(out.data, y * width * 4, y * png.width * 4, (y + 1) * png.width * 4);
  return out.data;
}

describe('the alert email looks the same after an MJML upgrade', () => {
  let browser: Browser;
  let html: string;

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    const config = loadConfig({ path: '/dev/null', env: { TOCSIN_SECRET: 'screenshot-secret-screenshot-secret-0123' } });
    const alert = newAlert(parseAlertMarkdown(exampleAlertSource()));
    const rendered = await renderAlertEmail(alert, config);
    html = personalise(rendered.html, {
      unsubscribeUrl: 'https://alerts.example.org/unsubscribe/TOKEN',
      preferencesUrl: 'https://alerts.example.org/preferences/TOKEN',
    });
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--font-render-hinting=none',
      ],
      // The same fonts on every machine: another installed family (fonts-liberation, say) reflows every paragraph.
      env: { ...process.env, FONTCONFIG_FILE: FONTS_CONF },
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  for (const width of [375, 1280]) {
    it(`at ${width} px wide`, async () => {
      const page = await browser.newPage({ viewport: { width, height: 800 }, deviceScaleFactor: 1 });
      const photo = placeholderPhoto();
      // No network: the photo is a local stand-in, anything else is refused.
      await page.route('**/*', (route) =>
        route.request().resourceType() === 'image' ? route.fulfill({ contentType: 'image/png', body: photo }) : route.abort(),
      );
      await page.setContent(html, { waitUntil: 'load' });
      const shot = await page.screenshot({ fullPage: true, animations: 'disabled' });
      await page.close();
      const name = `alert-email-${width}.png`;
      writeFileSync(`${OUT}${name}`, shot);
      if (process.env.UPDATE_SCREENSHOTS || !existsSync(`${REFERENCE}${name}`)) {
        mkdirSync(REFERENCE, { recursive: true });
        writeFileSync(`${REFERENCE}${name}`, shot);
        if (!process.env.UPDATE_SCREENSHOTS) throw new Error(`no reference screenshot ${name}: one was written; commit it after looking at it`);
      }
      const expected = PNG.sync.read(readFileSync(`${REFERENCE}${name}`));
      const actual = PNG.sync.read(shot);
      const w = Math.max(expected.width, actual.width);
      const h = Math.max(expected.height, actual.height);
      const diff = new PNG({ width: w, height: h });
      const different = pixelmatch(padTo(expected, w, h), padTo(actual, w, h), diff.data, w, h, { threshold: 0.1 });
      writeFileSync(`${OUT}alert-email-${width}.diff.png`, PNG.sync.write(diff));
      const share = different / (w * h);
      console.log(
        `email screenshot ${width} px: ${actual.width}x${actual.height} (reference ${expected.width}x${expected.height}), ${different} pixels differ (${(share * 100).toFixed(3)} %)`,
      );
      expect(share, `${different} of ${w * h} pixels differ; see test-results/email-screenshots/`).toBeLessThanOrEqual(MAX_DIFFERENT_SHARE);
    });
  }
});
