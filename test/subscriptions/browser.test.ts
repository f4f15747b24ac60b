import { mkdirSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { storeAlert } from '../helpers/fixtures.js';
import { renderAlertEmail, personalise } from '../../src/render/email.js';
import { personalLinks } from '../../src/publish/links.js';
import { startHarness, linkIn, waitForMail, type Harness } from './harness.js';

// Real Chromium against the listening server: a person subscribes with the form, confirms through
// the page and changes preferences. Screenshots of the form and of the alert email go to
// test-results/ for people to look at.

const OUT = new URL('../../test-results/', import.meta.url).pathname;

/** A plain 16:9 PNG standing in for the alert's photo, so screenshots show the real layout. */
function placeholderPng(width = 320, height = 180): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) rows.set([90 + (y >> 2), 100 + (x >> 3), 110], y * (width * 3 + 1) + 1 + x * 3);
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('subscribing in a browser', () => {
  let h: Harness;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    h = await startHarness('sub-browser');
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await h.close();
  });

  it('fills the form, confirms through the page and changes preferences', async () => {
    const page = await browser.newPage({ viewport: { width: 375, height: 800 } });
    await page.goto(`${h.base}/subscribe`);
    await page.screenshot({ path: `${OUT}subscribe-form-375.png`, fullPage: true });
    await page.setViewportSize({ width: 600, height: 900 });
    await page.screenshot({ path: `${OUT}subscribe-form-600.png`, fullPage: true });

    // Every visible control has a label a screen reader announces.
    const unlabelled = await page.$$eval('input:not([type=hidden]), select', (els) =>
      els.filter((el) => !el.closest('[aria-hidden=true]') && !(el as HTMLInputElement).labels?.length).map((el) => (el as HTMLInputElement).name),
    );
    expect(unlabelled).toEqual([]);
    // The page fits a phone: nothing scrolls sideways.
    await page.setViewportSize({ width: 375, height: 800 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);

    await page.getByLabel('Email address').fill('browser.reader@example.org');
    await page.getByLabel('Only the countries I tick').check();
    await page.getByLabel('Kazakhstan').check();
    await page.getByLabel('Genocide Warning and above').check();
    await page.getByRole('button', { name: 'Subscribe' }).click();
    await page.waitForURL(/\/subscribe\/check-email$/);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Check your email');

    const mail = await waitForMail(h.smtp, 'browser.reader@example.org', /Confirm your subscription/);
    await page.goto(linkIn(mail, '/subscribe/confirm/'));
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Confirm your subscription');
    expect((await h.ctx.subscribers.getByEmail('browser.reader@example.org'))?.status).toBe('pending');
    await page.getByRole('button', { name: 'Confirm subscription' }).click();
    await page.getByRole('heading', { name: 'You are subscribed' }).waitFor();
    expect(await h.ctx.subscribers.getByEmail('browser.reader@example.org')).toMatchObject({ status: 'confirmed', countries: ['KZ'], minLevel: 'warning' });

    await page.getByRole('link', { name: 'Change countries, alert level or language' }).click();
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Your alert preferences');
    expect(await page.getByLabel('Kazakhstan').isChecked()).toBe(true);
    expect(await page.getByLabel('Genocide Warning and above').isChecked()).toBe(true);
    await page.getByLabel('Ukraine').check();
    await page.getByLabel('Genocide Emergency only').check();
    await page.getByRole('button', { name: 'Save preferences' }).click();
    await page.getByText('Your preferences are saved.').waitFor();
    expect(await h.ctx.subscribers.getByEmail('browser.reader@example.org')).toMatchObject({
      status: 'confirmed',
      countries: ['KZ', 'UA'],
      minLevel: 'emergency',
    });

    // Ticking countries while "All countries" is chosen is refused with a clear message.
    await page.getByLabel('All countries').check();
    await page.getByRole('button', { name: 'Save preferences' }).click();
    const summary = page.getByRole('alert');
    expect(await summary.textContent()).toContain('you chose "All countries" and also ticked 2 countries');
    expect(await h.ctx.subscribers.getByEmail('browser.reader@example.org')).toMatchObject({ countries: ['KZ', 'UA'] });
    await page.close();
  });

  it('the alert email reads well at 375 and 600 px', async () => {
    const alert = await storeAlert(h.ctx, { level: 'emergency' });
    const rendered = await renderAlertEmail(alert, h.ctx.config);
    const html = personalise(rendered.html, personalLinks(h.ctx, 1));
    const page = await browser.newPage({ viewport: { width: 375, height: 800 } });
    // Nothing leaves the machine: the photo is answered locally, everything else refused.
    const photo = placeholderPng();
    await page.route('**/*', (route) =>
      route.request().url() === alert.image?.url ? route.fulfill({ status: 200, contentType: 'image/png', body: photo }) : route.abort(),
    );
    await page.setContent(html, { waitUntil: 'load' });
    await page.screenshot({ path: `${OUT}alert-email-375.png`, fullPage: true });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await page.setViewportSize({ width: 600, height: 900 });
    await page.screenshot({ path: `${OUT}alert-email-600.png`, fullPage: true });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(600);
    const text = await page.evaluate(() => document.body.innerText);
    for (const expected of [
      'GENOCIDE EMERGENCY',
      'Stage 4 of 10: Dehumanization',
      'recommends',
      'Read the full alert',
      'Why you got this',
      'Unsubscribe',
      '1 Example Street, Springfield',
    ]) {
      expect(text.toUpperCase()).toContain(expected.toUpperCase());
    }
    expect(await page.getAttribute('img[alt^="Soldiers in a line"]', 'alt')).toBeTruthy();
    await page.close();
  });
});
