import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { decodeEntities, launchBrowser, signedIn, startHarness, TOKENS, type Client, type Harness } from './harness.js';
import { seriousViolations } from '../helpers/axe.js';
import { seedSubscribers, storeAlert } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/context.js';
import type { ReceivedMail } from '../helpers/smtp.js';
import { publishAlert } from '../../src/publish/publish.js';
import { haltAlert } from '../../src/publish/halt.js';
import { correctAlert, retractAlert } from '../../src/publish/follow-up.js';
import { toAlertInput, valuesFromAlert } from '../../src/console/compose-form.js';
import type { Alert } from '../../src/domain/alert.js';

// The console and later versions of an alert: a halted correction resumes from the console as it
// does from the CLI and the API; the recipient look-up shows every version's delivery; and the
// correction form previews the correction as it will be sent, not a fresh alert.

const header = (mail: ReceivedMail, name: string) => new RegExp(`^${name}: (.+)$`, 'im').exec(mail.raw.toString('utf8'))?.[1]?.trim();
const plain = (html: string) =>
  decodeEntities(html.replace(/<[^>]+>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim();

describe('console: later versions (resume a halted correction, recipient look-up, correction preview)', () => {
  let h: Harness;
  let publisher: Client;
  let browser: Browser;
  const releases: Array<() => void> = [];

  beforeAll(async () => {
    h = await startHarness('console-follow-up-versions', { workers: true, mastodon: true });
    publisher = await signedIn(h.baseUrl, TOKENS.publisher, 'Pat Publisher');
    browser = await launchBrowser();
  });
  afterAll(async () => {
    for (const release of releases) release();
    h.smtp.behaviour.holdData = undefined;
    await browser?.close();
    await h?.close();
  });

  async function published(country: string, subscribers: number, prefix: string, title: string): Promise<Alert> {
    await seedSubscribers(
      h.ctx,
      subscribers,
      () => ({ countries: [country], minLevel: 'all' }),
      (i) => `${prefix}${i}@example.org`,
    );
    const alert = await storeAlert(h.ctx, { countries: [country], level: 'warning', image: undefined, title });
    await publishAlert(h.ctx, alert.id, 'Setup Person');
    return waitFor(async () => {
      const a = await h.ctx.alerts.require(alert.id);
      return a.status === 'published' ? a : undefined;
    }, 'the alert to be published');
  }

  const corrected = (alert: Alert, title: string) => ({ ...toAlertInput(valuesFromAlert(alert), undefined, true).input!, title });

  it('offers "Resume sending" for a correction halted while going out, and resumes it to exactly those it skipped', async () => {
    const SUBS = 60;
    const alert = await published('NA', SUBS, 'rv', 'Genocide Warning: Namibia');
    const mine = () => h.smtp.received.filter((m) => m.to[0].startsWith('rv'));
    expect(mine()).toHaveLength(SUBS);

    // Version 2's mail is held in flight, so it is still going out when it is halted.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    releases.push(release);
    h.smtp.behaviour.holdData = (to) => (to[0]?.startsWith('rv') ? held : undefined);
    await correctAlert(h.ctx, alert.id, corrected(alert, 'Genocide Warning: Namibia, corrected'), 'The region was wrong.', 'Pat Publisher');
    await waitFor(
      async () => h.smtp.held > 0 && ((await h.ctx.ledger.counts(alert.id)).channels['email@v2']?.queued ?? 0) > 0,
      'version 2 held in flight, more waiting',
    );
    const halted = await haltAlert(h.ctx, alert.id, 'Pat Publisher', 'the correction is wrong too');
    expect(halted.outcome).toBe('halted');
    expect(halted.halt.version).toBe(2);
    release();
    h.smtp.behaviour.holdData = undefined;
    await waitFor(async () => (await h.ctx.ledger.counts(alert.id)).outstanding === 0, 'the sends in flight to finish');
    // The status stays "corrected": it is the halt covering version 2 that makes it resumable (as for `tocsin resume`).
    expect((await h.ctx.alerts.require(alert.id)).status).toBe('corrected');
    const skipped = (await h.ctx.ledger.counts(alert.id)).channels['email@v2'].skipped;
    expect(skipped).toBeGreaterThan(0);

    const page = plain(await (await publisher.request(`/console/alerts/${alert.id}`)).text());
    expect(page).toContain('Sending is halted');
    expect(page).not.toContain('The earlier version was halted');
    expect(page).toContain('Resume sending…');

    // The confirmation counts what resumeAlert queues again: version 2's skipped deliveries.
    const confirm = await publisher.request(`/console/alerts/${alert.id}/resume`);
    expect(confirm.status).toBe(200);
    const confirmText = plain(await confirm.text());
    expect(confirmText).toContain(`The ${skipped} deliveries the halt skipped are queued again.`);
    expect(confirmText).toContain(`Email, version 2 ${skipped}`);
    expect(confirmText).toContain(`Resume sending: ${skipped} deliveries`);

    const resumed = await publisher.request(`/console/alerts/${alert.id}/resume`, {
      method: 'POST',
      form: { confirm: 'yes', _csrf: await publisher.csrf('/console/alerts') },
    });
    expect(resumed.status).toBe(303);
    expect(await h.ctx.halts.get(alert.id)).toBeNull();
    await waitFor(async () => (await h.ctx.ledger.counts(alert.id)).channels['email@v2'].sent === SUBS, 'every subscriber to get version 2');
    // Each subscriber got the original once and the correction once.
    const corrections = mine().filter((m) => /^Correction: /.test(header(m, 'Subject') ?? ''));
    expect(corrections).toHaveLength(SUBS);
    expect(new Set(corrections.map((m) => m.to[0])).size).toBe(SUBS);
    expect(mine()).toHaveLength(2 * SUBS);
    expect((await h.ctx.audit.list(alert.id)).find((e) => e.action === 'resumed')).toMatchObject({ actor: 'Pat Publisher', role: 'publisher' });
  });

  it("shows a recipient's delivery of every version: original, correction and retraction", async () => {
    const alert = await published('GA', 2, 'lk', 'Genocide Warning: Gabon');
    await correctAlert(h.ctx, alert.id, corrected(alert, 'Genocide Warning: Gabon, corrected'), 'The date was wrong.', 'Pat Publisher');
    await waitFor(async () => (await h.ctx.ledger.counts(alert.id)).channels['email@v2']?.sent === 2, 'the correction to be sent');
    await retractAlert(h.ctx, alert.id, 'It was a false report.', 'Pat Publisher');
    await waitFor(async () => (await h.ctx.ledger.counts(alert.id)).channels['email@v3']?.sent === 2, 'the retraction to be sent');

    const lookup = await publisher.request('/console/recipients', {
      method: 'POST',
      form: { email: 'lk0@example.org', _csrf: await publisher.csrf('/console/recipients') },
    });
    expect(lookup.status).toBe(200);
    const html = await lookup.text();
    expect(html).not.toContain('lk0@example.org');
    const rows = [...html.matchAll(/<tr data-version="(\d+)">([\s\S]*?)<\/tr>/g)].map((m) => ({ version: m[1], cells: plain(m[2]) }));
    const mineRows = rows.filter((r) => r.cells.includes('Genocide Warning: Gabon'));
    expect(mineRows.map((r) => r.version)).toEqual(['1', '2', '3']);
    expect(mineRows[0].cells).toMatch(/^Genocide Warning: Gabon, corrected Version 1 \(original\) Email (\S+ )?Sent 1 /);
    expect(mineRows[1].cells).toMatch(/^Genocide Warning: Gabon, corrected Version 2 \(correction\) Email (\S+ )?Sent 1 /);
    expect(mineRows[2].cells).toMatch(/^Genocide Warning: Gabon, corrected Version 3 \(retraction\) Email (\S+ )?Sent 1 /);
  });

  it('previews the correction as it will be sent: "Correction:" subject, what changed, and the reply on each account', async () => {
    const alert = await published('CM', 2, 'pv', 'Genocide Warning: Cameroon, August 2021');
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${h.baseUrl}/console/login`);
    await page.getByLabel('Your name', { exact: true }).fill('Cora Corrector');
    await page.getByLabel('Token', { exact: true }).fill(TOKENS.publisher);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Alerts' }).waitFor();
    await page.goto(`${h.baseUrl}/console/alerts/${alert.id}/correct`);

    // As typed: the live preview (the page's script) renders the correction, not a fresh alert.
    await page.getByLabel('Title', { exact: true }).fill('Genocide Warning: Cameroon, January 2022');
    await page.getByLabel('What changed').fill('The month was wrong: January 2022, not August 2021.');
    const subject = page.locator('#preview-body [data-preview="subject"]');
    await page.waitForFunction(
      () => document.querySelector('#preview-body [data-preview="subject"]')?.textContent === 'Correction: Genocide Warning: Cameroon, January 2022',
      undefined,
      { timeout: 30_000 },
    );
    const previewed = await subject.textContent();
    const srcdoc = (await page.locator('#preview-body iframe.email').getAttribute('srcdoc')) ?? '';
    expect(srcdoc).toContain('What changed: The month was wrong: January 2022, not August 2021. The corrected alert follows.');
    const reply = (await page.locator('#preview-body [data-preview-channel="masto"] pre.part').first().textContent()) ?? '';
    expect(reply).toMatch(/^Correction \(/);
    expect(reply).toContain('January 2022');
    expect(await seriousViolations(page)).toEqual([]);
    expect(errors).toEqual([]);

    // Without script, "Update preview" shows the same.
    const values = valuesFromAlert(alert);
    const form = {
      ...values,
      title: 'Genocide Warning: Cameroon, January 2022',
      note: 'The month was wrong: January 2022, not August 2021.',
      basedOn: '1',
      intent: 'preview',
    } as Record<string, string | string[]>;
    const noScript = await publisher.request(`/console/alerts/${alert.id}/correct`, {
      method: 'POST',
      form: { ...form, _csrf: await publisher.csrf('/console/alerts') },
    });
    expect(noScript.status).toBe(200);
    const noScriptHtml = decodeEntities(await noScript.text());
    expect(noScriptHtml).toContain('<span data-preview="subject">Correction: Genocide Warning: Cameroon, January 2022</span>');

    // The live preview's route is for publishers, like the form.
    const editor = await signedIn(h.baseUrl, TOKENS.editor, 'Ed Editor');
    const refused = await editor.request(`/console/alerts/${alert.id}/correct/preview`, {
      method: 'POST',
      form: { ...form, _csrf: await editor.csrf('/console/alerts') },
      headers: { accept: 'application/json' },
    });
    expect(refused.status).toBe(403);

    // What the preview showed is what was sent.
    await page.getByRole('button', { name: /^Publish the correction/ }).click();
    await page.getByText('Correction published as version 2. It is going out on every channel.').waitFor();
    await waitFor(async () => (await h.ctx.ledger.counts(alert.id)).channels['email@v2']?.sent === 2, 'the correction to be sent');
    const sent = h.smtp.received.filter((m) => m.to[0].startsWith('pv') && /^Correction: /.test(header(m, 'Subject') ?? ''));
    expect(sent).toHaveLength(2);
    expect(header(sent[0], 'Subject')).toBe(previewed);
    await context.close();
  });
});
