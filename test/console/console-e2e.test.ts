import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, startHarness, TOKENS, type Harness } from './harness.js';
import { seedSubscribers } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/context.js';
import type { MailTransport } from '../../src/channels/email/transport.js';

// The whole path a publisher takes, in Chromium against the listening server: sign in, compose
// with a live preview, publish through the confirmation step, watch the live progress reach 100%
// while the real SMTP server receives the mail, find the 550-rejected recipient in the failures
// table, let the server accept and retry, and see it sent.

const REJECTED = 'reader3@example.org';
const SUBSCRIBERS = 25;

/** Holds sends to the last batch until released, so "mid-publish" is a state, not a moment. */
function gate() {
  let release!: () => void;
  const opened = new Promise<void>((resolve) => (release = resolve));
  const held = new Set(Array.from({ length: 5 }, (_, i) => `reader${SUBSCRIBERS - 5 + i}@example.org`));
  return {
    release,
    wrap: (transport: MailTransport): MailTransport => ({
      ...transport,
      async send(message) {
        if (held.has(message.to)) await opened;
        return transport.send(message);
      },
    }),
  };
}

const channelPercent = (page: Page, channel: string) => page.locator(`[data-channel="${channel}"] [data-field="percent"]`);
const waitText = (page: Page, selector: string, text: string) =>
  page.waitForFunction(([s, t]) => document.querySelector(s)?.textContent?.trim() === t, [selector, text] as const, { timeout: 30_000 });

describe('console: compose, publish, watch, retry (Chromium)', () => {
  let h: Harness;
  let browser: Browser;
  const hold = gate();

  beforeAll(async () => {
    mkdirSync('test-results', { recursive: true });
    h = await startHarness('console-e2e', { workers: true, mastodon: true, wrapTransport: hold.wrap });
    await seedSubscribers(h.ctx, SUBSCRIBERS, () => ({ countries: ['KZ'], minLevel: 'all' }));
    // Subscribers this alert must not reach: another country only.
    await seedSubscribers(
      h.ctx,
      4,
      () => ({ countries: ['UA'], minLevel: 'all' }),
      (i) => `elsewhere${i}@example.org`,
    );
    h.smtp.behaviour.rejectRecipient = (address) => (address === REJECTED ? { code: 550, message: '5.7.1 message refused by policy' } : undefined);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    hold.release();
    await browser?.close();
    await h?.close();
  });

  it('takes an alert from compose to every subscriber, and retries the one the server refused', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    // Script errors and CSP refusals count; resources that cannot load offline (web fonts) do not.
    page.on('console', (msg) => msg.type() === 'error' && !msg.text().startsWith('Failed to load resource') && errors.push(msg.text()));

    // 1. Sign in.
    await page.goto(`${h.baseUrl}/console/login`);
    await page.getByLabel('Your name', { exact: true }).fill('Ada Lovelace');
    await page.getByLabel('Token', { exact: true }).fill(TOKENS.publisher);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Alerts' }).waitFor();
    expect(await page.getByText('Ada Lovelace · publisher').count()).toBe(1);

    // 2. Compose, and check the live preview (same renderers as delivery).
    await page.getByRole('link', { name: 'Compose', exact: true }).click();
    await page.getByLabel('Title', { exact: true }).fill('Genocide Emergency Alert: Kazakhstan, January 2022');
    await page.getByLabel('Level', { exact: true }).selectOption('emergency');
    await page.getByLabel('Countries', { exact: true }).fill('KZ');
    await page.getByLabel('Region (optional)', { exact: true }).fill('Almaty');
    await page.getByLabel('Summary', { exact: true }).fill('Security forces have been ordered to fire on protesters without warning.');
    await page.getByLabel('Body', { exact: true }).fill('We are issuing a **Genocide Emergency Alert** for Kazakhstan.');
    await page.getByLabel('4. Dehumanization', { exact: true }).check();
    await page.getByLabel('8. Persecution', { exact: true }).check();
    await page.getByLabel('Recommendations', { exact: true }).fill('Suspend purchases of Kazakh oil until the killing stops.');
    await page.getByLabel('Image URL', { exact: true }).fill(h.images!.image());
    await page.getByLabel('Alt text', { exact: true }).fill('Soldiers in a line aim rifles across a city square.');
    await page.getByLabel('Credit (optional)', { exact: true }).fill('Example News Agency');

    const emailFrame = page.frameLocator('iframe.email');
    await emailFrame.getByText('Security forces have been ordered to fire', { exact: false }).first().waitFor({ state: 'attached', timeout: 20_000 });
    await emailFrame.getByText('Suspend purchases of Kazakh oil', { exact: false }).waitFor();
    expect(await page.locator('[data-preview="subject"]').textContent()).toBe('Genocide Emergency Alert: Kazakhstan, January 2022');
    expect(await emailFrame.locator('img[alt="Soldiers in a line aim rifles across a city square."]').count()).toBeGreaterThan(0);
    const webhookLength = page.locator('[data-preview-channel="partners"] [data-length]');
    expect(await webhookLength.textContent()).toMatch(/^\d+ \/ 1048576$/);
    // The Mastodon post as the adapter renders it, counted against the instance's own limit.
    const mastodonPart = page.locator('[data-preview-channel="masto"]');
    expect(await mastodonPart.locator('[data-length]').first().textContent()).toMatch(/^\d+ \/ 500$/);
    expect(await mastodonPart.locator('pre.part').first().textContent()).toContain('Genocide Emergency Alert: Kazakhstan, January 2022');
    expect(await mastodonPart.textContent()).toContain('Image attached, alt text: Soldiers in a line aim rifles across a city square.');
    expect(await page.locator('iframe.email').getAttribute('sandbox')).toBe('');
    await emailFrame.locator('body').evaluate(() => document.fonts.ready.then(() => true));
    await page.screenshot({ path: 'test-results/console-compose-preview.png', fullPage: true });

    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByText('Draft saved.').waitFor();
    const alertUrl = page.url().split('?')[0];
    const alertId = alertUrl.split('/').pop()!;
    expect(await page.locator('#alert-status').textContent()).toContain('Draft');

    // 3. Publish, through the confirmation step that says who will receive it.
    await page.getByRole('link', { name: 'Publish or schedule…' }).click();
    expect(await page.locator('[data-count="subscribers"]').textContent()).toBe(String(SUBSCRIBERS));
    expect(await page.locator('[data-count="accounts"]').textContent()).toBe('2');
    await page.getByRole('button', { name: `Publish now to ${SUBSCRIBERS} subscribers and 2 accounts` }).click();
    await page.getByText('Publishing has started.').waitFor();

    // 4. Live progress: mid-publish (the last batch is held), then 100% once it is released.
    await waitText(page, '[data-channel="partners"] [data-field="percent"]', '100%');
    await waitText(page, '[data-channel="masto"] [data-field="percent"]', '100%');
    await waitText(page, '[data-channel="email"] [data-field="done"]', String(SUBSCRIBERS - 5));
    expect(await channelPercent(page, 'email').textContent()).toBe('80%');
    await page.screenshot({ path: 'test-results/console-mid-publish.png', fullPage: true });
    hold.release();
    await waitText(page, '[data-channel="email"] [data-field="percent"]', '100%');
    await waitFor(async () => h.smtp.received.length === SUBSCRIBERS - 1, 'the SMTP server to receive every accepted message');
    expect(new Set(h.smtp.recipients()).size).toBe(SUBSCRIBERS - 1);
    expect(h.smtp.recipients()).not.toContain(REJECTED);
    expect(h.smtp.recipients().some((r) => r.startsWith('elsewhere'))).toBe(false);
    expect(h.received).toHaveLength(1);
    expect(h.mastodon!.statuses).toHaveLength(1);
    expect(h.mastodon!.statuses[0].text).toContain('Genocide Emergency Alert: Kazakhstan, January 2022');
    expect([...h.mastodon!.media.values()].map((m) => m.description)).toEqual(['Soldiers in a line aim rifles across a city square.']);

    // 5. The 550 is in the failures table, grouped by reason, with the address masked.
    const failures = page.locator('table#failures');
    await failures.waitFor();
    const row = failures.locator('tbody tr').first();
    expect(await row.textContent()).toContain('550');
    expect(await row.textContent()).toContain('re***@ex***.org');
    expect(await row.textContent()).not.toContain(REJECTED);
    expect(await page.locator('[data-channel="email"] [data-field="failed"]').textContent()).toBe('1');

    // 6. The server now accepts; retry the failed email.
    h.smtp.behaviour.rejectRecipient = undefined;
    await page.getByRole('button', { name: 'Retry all 1 failed' }).click();
    await page.getByText('1 failed delivery was queued again.').waitFor();

    // 7. It is sent, the failures table is empty, and the server got exactly one more message.
    await waitText(page, '[data-channel="email"] [data-field="sent"]', String(SUBSCRIBERS));
    await page.getByText('No failed or unknown deliveries.').waitFor();
    await waitFor(async () => h.smtp.recipients().includes(REJECTED), 'the retried message to arrive');
    expect(h.smtp.recipients().filter((r) => r === REJECTED)).toHaveLength(1);
    expect(h.smtp.received.length).toBe(SUBSCRIBERS);
    await page.waitForFunction(() => document.querySelector('#alert-status')?.textContent?.includes('Published'), undefined, { timeout: 30_000 });
    await page.screenshot({ path: 'test-results/console-after-retry.png', fullPage: true });

    // The audit log names who did it.
    const audit = await (await page.request.get(`${h.baseUrl}/console/alerts/${alertId}/audit.json`)).json();
    expect(audit.entries.map((e: { action: string; actor: string }) => `${e.action}:${e.actor}`)).toEqual([
      'created:Ada Lovelace',
      'publish-requested:Ada Lovelace',
      'retried:Ada Lovelace',
    ]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
