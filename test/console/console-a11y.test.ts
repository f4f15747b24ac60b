import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, startHarness, TOKENS, type Harness } from './harness.js';
import { seedSubscribers, storeAlert } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/context.js';
import { publishAlert } from '../../src/publish/publish.js';

// Basic accessibility, checked in a real browser on every console page: each control has a label,
// status is written in words (not only a colour), the pages work from the keyboard alone.

/** Problems a page has; an empty list means it passes. */
async function audit(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const describe = (el: Element) => `${el.tagName.toLowerCase()}#${el.id || '(no id)'}[name=${el.getAttribute('name') ?? ''}]`;
    const text = (el: Element | null) => (el?.textContent ?? '').replace(/\s+/g, ' ').trim();
    const labelledBy = (el: Element) =>
      (el.getAttribute('aria-labelledby') ?? '')
        .split(/\s+/)
        .filter(Boolean)
        .map((id) => text(document.getElementById(id)))
        .join(' ');
    for (const el of document.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>('input, select, textarea')) {
      if (el.type === 'hidden') continue;
      const label = [...(el.labels ?? [])].map(text).join(' ') || el.getAttribute('aria-label') || labelledBy(el);
      if (!label) problems.push(`no label: ${describe(el)}`);
    }
    for (const el of document.querySelectorAll('button, a[href]')) {
      if (!text(el) && !el.getAttribute('aria-label')) problems.push(`no text: ${describe(el)}`);
    }
    for (const el of document.querySelectorAll('.chip')) {
      if (!/[A-Za-z]{2,}/.test(text(el))) problems.push(`status shown without words: ${el.outerHTML}`);
    }
    for (const el of document.querySelectorAll<HTMLProgressElement>('progress')) {
      if (!labelledBy(el) && !el.labels?.length) problems.push(`progress without a label: ${describe(el)}`);
    }
    for (const el of document.querySelectorAll('iframe')) if (!el.getAttribute('title')) problems.push(`iframe without title: ${describe(el)}`);
    const ids = [...document.querySelectorAll('[id]')].map((el) => el.id);
    for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i))) problems.push(`duplicate id: ${id}`);
    if (!document.querySelector('h1')) problems.push('no h1');
    if (!document.documentElement.lang) problems.push('no lang');
    return problems;
  });
}

/** Presses Tab until `predicate` holds for the focused element; returns how many presses it took. */
async function tabTo(page: Page, predicate: string, max = 60): Promise<number> {
  for (let i = 1; i <= max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(`(() => { const el = document.activeElement; return Boolean(el && (${predicate})); })()`)) return i;
  }
  throw new Error(`could not reach ${predicate} with Tab`);
}

describe('console accessibility (Chromium)', () => {
  let h: Harness;
  let browser: Browser;
  let publishedId: string;
  let draftId: string;

  beforeAll(async () => {
    h = await startHarness('console-a11y', { workers: true });
    await seedSubscribers(h.ctx, 6, () => ({ countries: ['KZ'], minLevel: 'all' }));
    h.smtp.behaviour.rejectRecipient = (a) => (a === 'reader2@example.org' ? { code: 550, message: '5.1.1 mailbox unavailable' } : undefined);
    const published = await storeAlert(h.ctx, { title: 'Published alert' });
    publishedId = published.id;
    await publishAlert(h.ctx, published.id, 'Setup');
    await waitFor(async () => (await h.ctx.alerts.require(published.id)).status === 'published', 'the alert to be published');
    draftId = (await storeAlert(h.ctx, { title: 'Draft alert' })).id;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('signs in with the keyboard alone', async () => {
    const page = await browser.newPage();
    await page.goto(`${h.baseUrl}/console/login`);
    expect(await audit(page)).toEqual([]);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await tabTo(page, "el.id === 'login-name'");
    await page.keyboard.type('Kim Keyboard');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('login-token');
    await page.keyboard.type(TOKENS.publisher);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Sign in');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Alerts' }).waitFor();
    expect(await page.getByText('Kim Keyboard · publisher').count()).toBe(1);

    // An action on the alert page, from the keyboard: retry the failed delivery.
    await page.goto(`${h.baseUrl}/console/alerts/${publishedId}`);
    await tabTo(page, "el.tagName === 'BUTTON' && el.textContent.startsWith('Retry all')");
    await page.keyboard.press('Enter');
    await page.getByText('1 failed delivery was queued again.').waitFor();
    await page.close();
  });

  it('labels every control and writes every status in words, on every page', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${h.baseUrl}/console/login`);
    await page.getByLabel('Your name').fill('Alex Auditor');
    await page.getByLabel('Token', { exact: true }).fill(TOKENS.publisher);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Alerts' }).waitFor();

    const pages = [
      '/console/alerts',
      '/console/alerts?status=published&country=KZ&level=emergency',
      `/console/alerts/${publishedId}`,
      `/console/alerts/${draftId}`,
      `/console/alerts/${draftId}/edit`,
      `/console/alerts/${draftId}/publish`,
      '/console/compose',
      '/console/health',
      '/console/subscribers',
      '/console/recipients',
    ];
    for (const path of pages) {
      await page.goto(h.baseUrl + path);
      expect(await audit(page), path).toEqual([]);
    }

    // The chips on the list say their status.
    await page.goto(`${h.baseUrl}/console/alerts`);
    const chips = await page.locator('td .chip').allTextContents();
    expect(chips.map((c) => c.replace(/^\W+/, '').trim()).sort()).toEqual(['Draft', 'Published']);

    // A form with errors: the summary links to each field, which is marked invalid and described.
    await page.goto(`${h.baseUrl}/console/compose`);
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('heading', { name: /Please fix/ }).waitFor();
    expect(await audit(page)).toEqual([]);
    const title = page.locator('#f-title');
    expect(await title.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#f-title-error').textContent()).toBe('must not be empty');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('error-summary');

    // A recipient look-up result page.
    await page.goto(`${h.baseUrl}/console/recipients`);
    await page.getByLabel('Email address').fill('reader1@example.org');
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByRole('heading', { name: /Results for/ }).waitFor();
    expect(await audit(page)).toEqual([]);
    await context.close();
  });
});
