import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, startHarness, TOKENS, type Harness } from './harness.js';
import { seriousViolations } from '../helpers/axe.js';
import { seedSubscribers, storeAlert } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/context.js';
import type { ReceivedMail } from '../helpers/smtp.js';
import { publishAlert } from '../../src/publish/publish.js';

// Issue 9 in the console, in Chromium against the listening server with real workers, Redis and
// SMTP: stop an alert while its mail is held in flight, see who stopped it, when, why and what
// was skipped, and resume it to exactly the rest; correct an alert from the prefilled compose
// form and watch version 2 go out live; retract it with a reason. Every new page passes axe-core.

const OUT = 'test-results/';

function gate() {
  let release!: () => void;
  const opened = new Promise<void>((resolve) => (release = resolve));
  return { opened, release };
}

const header = (mail: ReceivedMail, name: string) => new RegExp(`^${name}: (.+)$`, 'im').exec(mail.raw.toString('utf8'))?.[1]?.trim();
const waitText = (page: Page, selector: string, text: string) =>
  page.waitForFunction(([s, t]) => document.querySelector(s)?.textContent?.trim() === t, [selector, text] as const, { timeout: 30_000 });
const text = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? '').replace(/\s+/g, ' ').trim();

describe('console: stop, resume, correct and retract (Chromium)', () => {
  let h: Harness;
  let browser: Browser;
  const errors: string[] = [];
  const gates: Array<() => void> = [];

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    h = await startHarness('console-follow-up', { workers: true, mastodon: true });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    for (const release of gates) release();
    await browser?.close();
    await h?.close();
  });

  async function signIn(name: string): Promise<Page> {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 1000 } })).newPage();
    page.on('pageerror', (err) => errors.push(err.message));
    // Script errors and CSP refusals count; resources that cannot load offline (web fonts) do not.
    page.on('console', (msg) => msg.type() === 'error' && !msg.text().startsWith('Failed to load resource') && errors.push(msg.text()));
    await page.goto(`${h.baseUrl}/console/login`);
    await page.getByLabel('Your name', { exact: true }).fill(name);
    await page.getByLabel('Token', { exact: true }).fill(TOKENS.publisher);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Alerts' }).waitFor();
    return page;
  }

  /** No serious or critical axe findings; a screenshot for people to look at. */
  async function check(page: Page, name: string) {
    expect(await seriousViolations(page), name).toEqual([]);
    expect(await page.locator('h1').count(), name).toBe(1);
    await page.screenshot({ path: `${OUT}console-follow-up-${name}.png`, fullPage: true });
  }

  async function auditEntries(alertId: string) {
    return (await h.ctx.audit.list(alertId)).map((e) => `${e.action} by ${e.actor} (${e.role ?? 'no role'})`);
  }

  it('stops an alert while its mail is in flight, shows who, when, why and what was skipped, and resumes to exactly the rest', async () => {
    const SUBS = 60;
    await seedSubscribers(
      h.ctx,
      SUBS,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      (i) => `halt${i}@example.org`,
    );
    // Every message's final "250 OK" waits: the alert stays "going out" for as long as the test needs.
    const hold = gate();
    gates.push(hold.release);
    h.smtp.behaviour.holdData = (to) => (to[0]?.startsWith('halt') ? hold.opened : undefined);
    const mine = () => h.smtp.received.filter((m) => m.to[0].startsWith('halt'));
    const alert = await storeAlert(h.ctx, { title: 'Genocide Warning: Wrongland', countries: ['KZ'], level: 'warning', image: undefined });
    await publishAlert(h.ctx, alert.id, 'Setup Person');
    await waitFor(async () => h.smtp.held > 0 && ((await h.ctx.ledger.counts(alert.id)).channels.email?.queued ?? 0) > 0, 'sends held in flight, more waiting');

    const page = await signIn('Hana Halter');
    await page.goto(`${h.baseUrl}/console/alerts/${alert.id}`);
    expect(await text(page, '#stop-sending')).toMatch(/^Stop sending This alert is going out: \d+ deliveries have no outcome yet\./);
    await check(page, 'alert-going-out');

    // The confirmation step says what will happen, in numbers.
    await page.locator('#stop-sending').getByRole('link', { name: 'Stop sending…' }).click();
    await page.getByRole('heading', { name: 'Stop sending “Genocide Warning: Wrongland”' }).waitFor();
    const waiting = Number(await text(page, '[data-count="waiting"]'));
    const inFlight = Number(await text(page, '[data-count="sending"]'));
    expect(waiting).toBeGreaterThan(0);
    expect(inFlight).toBeGreaterThan(0);
    const effects = await text(page, '#halt-effects');
    expect(effects).toContain(`The remaining ${waiting} deliveries are skipped: nothing more is sent.`);
    expect(effects).toContain(`${inFlight} ${inFlight === 1 ? 'send is' : 'sends are'} in flight right now`);
    await check(page, 'halt-confirm');

    // A halt needs a reason.
    await page.getByRole('button', { name: 'Stop sending now' }).click();
    await page.locator('#f-reason-error').waitFor();
    expect(await text(page, '#f-reason-error')).toBe('Reason: say why you are stopping it; it is recorded with every skipped delivery');
    expect(await page.getByLabel('Reason').getAttribute('aria-invalid')).toBe('true');
    expect(await h.ctx.halts.get(alert.id)).toBeNull();
    await check(page, 'halt-confirm-error');

    await page.getByLabel('Reason').fill('wrong country in the title');
    await page.getByRole('button', { name: 'Stop sending now' }).click();
    await page.getByText(/^Sending stopped\. \d+ waiting deliveries were skipped; sends already in flight finish and are recorded\.$/).waitFor();
    const atHalt = mine().length;
    expect(await h.ctx.halts.get(alert.id)).toMatchObject({ by: 'Hana Halter', reason: 'wrong country in the title' });

    // What was in flight finishes; nothing else is sent.
    hold.release();
    await waitFor(async () => {
      const c = (await h.ctx.ledger.counts(alert.id)).channels.email;
      return c.queued + c.sending + c.retrying === 0;
    }, 'the sends in flight to finish');
    const email = (await h.ctx.ledger.counts(alert.id)).channels.email;
    console.log(`console halt: ${atHalt} delivered before it, ${mine().length - atHalt} in flight after it (of ${inFlight}), ${email.skipped} skipped`);
    expect(email.sent + email.skipped).toBe(SUBS);
    expect(email.skipped).toBeGreaterThanOrEqual(waiting);
    expect(mine()).toHaveLength(email.sent);
    expect(mine().length - atHalt).toBeLessThanOrEqual(inFlight);

    // The page says who halted it, when and why, and what the halt skipped.
    await page.reload();
    expect(await text(page, '#halt-by')).toMatch(/^Halted by Hana Halter on \d{4}-\d\d-\d\d \d\d:\d\d UTC: wrong country in the title$/);
    expect((await page.locator('#halted-skipped tbody td').allTextContents()).map((c) => c.trim())).toEqual(['Email', String(email.skipped)]);
    expect(await text(page, '#alert-status')).toContain('Halted');
    expect(await text(page, '[data-live="publication"]')).toBe('halted: nothing more is sent unless someone resumes it');
    expect(await page.locator('#stop-sending').count()).toBe(0);
    const offers = await page.locator('#halted .actions a').allTextContents();
    expect(offers).toEqual(['Resume sending…', 'Correct…', 'Retract…']);
    await check(page, 'alert-halted');

    // Resume: its own confirmation, then exactly the rest.
    await page.locator('#halted').getByRole('link', { name: 'Resume sending…' }).click();
    expect(Number(await text(page, '[data-count="skipped"]'))).toBe(email.skipped);
    expect(await text(page, '#resume-effects')).toContain('Only those not yet sent get it: nobody gets it twice.');
    await check(page, 'resume-confirm');
    await page.getByRole('button', { name: `Resume sending: ${email.skipped} deliveries` }).click();
    await page.getByText(`Sending resumed: ${email.skipped} skipped deliveries were queued again. Nobody already sent to gets it twice.`).waitFor();
    // The live progress (server-sent events) carries it to the end.
    await waitText(page, '[data-channel="email"] [data-field="sent"]', String(SUBS));
    await page.waitForFunction(() => document.querySelector('#alert-status')?.textContent?.includes('Published'), undefined, { timeout: 30_000 });
    const recipients = mine().map((m) => m.to[0]);
    expect(recipients).toHaveLength(SUBS);
    expect(new Set(recipients).size).toBe(SUBS);

    expect(await auditEntries(alert.id)).toEqual(['halted by Hana Halter (publisher)', 'resumed by Hana Halter (publisher)']);
    const detail = (await h.ctx.audit.list(alert.id)).find((e) => e.action === 'halted')?.detail;
    expect(detail).toMatch(/^wrong country in the title \(\d+ deliveries skipped\)$/);
    h.smtp.behaviour.holdData = undefined;
    await page.context().close();
  });

  it('corrects an alert from the prefilled form (version 2 live on the alert page and on the public page), then retracts it with a reason', async () => {
    await seedSubscribers(
      h.ctx,
      5,
      () => ({ countries: ['ER'], minLevel: 'all' }),
      (i) => `fix${i}@example.org`,
    );
    const mine = () => h.smtp.received.filter((m) => m.to[0].startsWith('fix'));
    const alert = await storeAlert(h.ctx, {
      title: 'Genocide Warning: Eritrea, August 2021',
      countries: ['ER'],
      level: 'warning',
      image: undefined,
      summary: 'Forces massed on the border in August 2021.',
    });
    await publishAlert(h.ctx, alert.id, 'Setup Person');
    await waitFor(async () => (await h.ctx.alerts.require(alert.id)).status === 'published', 'the alert to be published');
    expect(mine()).toHaveLength(5);
    const originalIds = new Map(mine().map((m) => [m.to[0], header(m, 'Message-ID')]));

    const page = await signIn('Cora Corrector');
    await page.goto(`${h.baseUrl}/console/alerts/${alert.id}`);
    await check(page, 'alert-published');
    await page.getByRole('link', { name: 'Correct…' }).click();
    await page.getByRole('heading', { name: 'Correct: Genocide Warning: Eritrea, August 2021' }).waitFor();

    // Prefilled from the current version.
    expect(await page.getByLabel('Title', { exact: true }).inputValue()).toBe('Genocide Warning: Eritrea, August 2021');
    expect(await page.getByLabel('Countries', { exact: true }).inputValue()).toBe('ER');
    expect(await page.getByLabel('Summary', { exact: true }).inputValue()).toBe('Forces massed on the border in August 2021.');
    expect(await page.getByLabel('Level', { exact: true }).inputValue()).toBe('warning');
    // Who will receive it.
    expect(await text(page, '#correction-audience')).toContain('Email: 5 subscribers who received an earlier version get “Correction: …” as a reply to it.');
    expect(await text(page, '[data-count="accounts"]')).toBe('2');
    expect(await page.locator('#correction-halts').count()).toBe(0);
    await check(page, 'correct-form');

    // Hold the correction's mail, so its progress is seen moving on the open page.
    const hold = gate();
    gates.push(hold.release);
    h.smtp.behaviour.holdData = (to) => (to[0]?.startsWith('fix') ? hold.opened : undefined);

    await page.getByLabel('Title', { exact: true }).fill('Genocide Warning: Eritrea, January 2022');
    await page.getByLabel('Summary', { exact: true }).fill('Forces massed on the border in January 2022.');
    const publish = page.getByRole('button', { name: 'Publish the correction to 5 subscribers and 2 accounts' });
    await publish.click();
    await page.getByRole('heading', { name: 'Please fix 1 problem' }).waitFor();
    expect(await text(page, '#error-summary li')).toBe(
      'What changed: say what changed, in words readers will see (for example “The date was 8 January, not 1 August.”)',
    );
    expect(await page.getByLabel('What changed').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('Title', { exact: true }).inputValue()).toBe('Genocide Warning: Eritrea, January 2022');
    expect(await h.ctx.versions.count(alert.id)).toBe(1);
    await check(page, 'correct-form-error');

    await page.getByLabel('What changed').fill('The month was wrong: January 2022, not August 2021.');
    await publish.click();
    await page.getByText('Correction published as version 2. It is going out on every channel.').waitFor();
    // Version 2 is going out (its mail is held): it can be stopped too. The offer appears once its deliveries are queued.
    await page.locator('#stop-sending').waitFor({ timeout: 30_000 });

    expect(await text(page, '#corrected-notice')).toMatch(
      /^Corrected on \d{4}-\d\d-\d\d \d\d:\d\d UTC: The month was wrong: January 2022, not August 2021\. \(version 2, by Cora Corrector\)$/,
    );
    const cells = async (row: number) => (await page.locator(`#versions tbody tr:nth-child(${row}) td`).allTextContents()).map((c) => c.trim());
    expect(await cells(1)).toEqual(['Version 1 (original)', expect.stringMatching(/ UTC$/), 'Setup Person', '', 'Version 1 on the public site']);
    expect(await cells(2)).toEqual([
      'Version 2 (correction) · current',
      expect.stringMatching(/ UTC$/),
      'Cora Corrector',
      'The month was wrong: January 2022, not August 2021.',
      'Version 2 on the public site',
    ]);

    // The follow-up's deliveries, grouped under their version, live.
    expect(await text(page, '[data-version="2"] h3')).toBe('Version 2 (correction)');
    expect(await text(page, '[data-version="1"] h3')).toBe('Version 1 (original)');
    expect(await text(page, '[data-channel="email@v2"] h4')).toBe('Email, version 2');
    await waitText(page, '[data-channel="email@v2"] [data-field="total"]', '5');
    expect(await text(page, '[data-channel="email@v2"] [data-field="percent"]')).toBe('0%');
    hold.release();
    await waitText(page, '[data-channel="email@v2"] [data-field="percent"]', '100%');
    await waitText(page, '[data-channel="masto@v2"] [data-field="percent"]', '100%');
    await page.waitForFunction(() => document.querySelector('#alert-status')?.textContent?.includes('Corrected'), undefined, { timeout: 30_000 });
    // While version 2 went out, "Stop sending" was offered; once every delivery has an outcome it goes, without a reload.
    await page.waitForFunction(() => !document.querySelector('#stop-sending'), undefined, { timeout: 30_000 });
    await check(page, 'alert-corrected');
    h.smtp.behaviour.holdData = undefined;

    // Each subscriber got one correction, threaded to the original.
    const corrections = mine().filter((m) => /^Correction: /.test(header(m, 'Subject') ?? ''));
    expect(corrections).toHaveLength(5);
    for (const mail of corrections) expect(header(mail, 'In-Reply-To')).toBe(originalIds.get(mail.to[0]));
    // The Mastodon account replied to its original post.
    const original = h.mastodon!.statuses.find((s) => s.text.includes('Eritrea, August 2021') && !s.in_reply_to_id)!;
    expect(h.mastodon!.statuses.filter((s) => s.in_reply_to_id === original.id && s.text.includes('January 2022'))).toHaveLength(1);

    // The public page shows version 2 under its notice; version 1 stays readable.
    await page.getByRole('link', { name: 'Version 2 on the public site' }).click();
    await page.getByRole('heading', { level: 1, name: 'Genocide Warning: Eritrea, January 2022' }).waitFor();
    const publicPage = await (await fetch(`${h.baseUrl}/alerts/${alert.slug}`)).text();
    expect(publicPage).toContain('Genocide Warning: Eritrea, January 2022');
    expect(publicPage).toMatch(/Corrected on <time datetime="[^"]+">[^<]+<\/time>:<\/strong> The month was wrong: January 2022, not August 2021\./);
    expect(await (await fetch(`${h.baseUrl}/alerts/${alert.slug}/v/1`)).text()).toContain('Genocide Warning: Eritrea, August 2021');

    // Retract it: a reason is required, deleting the original posts is off by default, and a confirmation step comes first.
    await page.goto(`${h.baseUrl}/console/alerts/${alert.id}`);
    await page.getByRole('link', { name: 'Retract…' }).click();
    await page.getByRole('heading', { name: 'Retract “Genocide Warning: Eritrea, January 2022”' }).waitFor();
    expect(await text(page, '#retract-effects')).toContain('Email: 5 subscribers who received it get “Retraction: …” as a reply to it.');
    const deleteBox = page.getByLabel('Also delete the original social posts where the provider allows it');
    expect(await deleteBox.isChecked()).toBe(false);
    await check(page, 'retract-form');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('#f-reason-error').waitFor();
    expect(await text(page, '#f-reason-error')).toBe('Reason: say why it is retracted; readers see it on the public page and in the retraction');
    await check(page, 'retract-form-error');
    await page.getByLabel('Reason').fill('The source withdrew the report.');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Confirm the retraction' }).waitFor();
    expect(await text(page, '#confirm-reason')).toBe('The source withdrew the report.');
    expect(await text(page, '#confirm-delete')).toBe('kept');
    expect(await h.ctx.versions.count(alert.id)).toBe(2);
    await check(page, 'retract-confirm');
    await page.getByRole('button', { name: 'Retract now' }).click();
    await page.getByText('Alert retracted (version 3). The retraction is going out on every channel.').waitFor();

    expect(await text(page, '#retracted-notice')).toMatch(
      /^Retracted on \d{4}-\d\d-\d\d \d\d:\d\d UTC because The source withdrew the report\. \(Cora Corrector\)$/,
    );
    const all = await page.locator('#versions tbody tr td:first-child').allTextContents();
    expect(all).toEqual(['Version 1 (original)', 'Version 2 (correction)', 'Version 3 (retraction) · current']);
    expect(await text(page, '#versions tbody tr:nth-child(3) td:nth-child(4)')).toBe('The source withdrew the report.');
    expect(await page.getByRole('link', { name: 'Correct…' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Retract…' }).count()).toBe(0);
    await waitText(page, '[data-channel="email@v3"] [data-field="percent"]', '100%');
    expect(await text(page, '[data-version="3"] h3')).toBe('Version 3 (retraction)');
    await check(page, 'alert-retracted');

    await waitFor(async () => mine().filter((m) => /^Retraction: /.test(header(m, 'Subject') ?? '')).length === 5, 'five retraction emails');
    expect(mine().filter((m) => /^Retraction: /.test(header(m, 'Subject') ?? ''))).toHaveLength(5);
    const retractedPage = await (await fetch(`${h.baseUrl}/alerts/${alert.slug}`)).text();
    expect(retractedPage).toMatch(/Retracted on <time datetime="[^"]+">[^<]+<\/time><\/strong> because The source withdrew the report\./);
    // The original post stays: deleting was not asked for.
    expect(h.mastodon!.statuses.some((s) => s.id === original.id)).toBe(true);

    expect(await auditEntries(alert.id)).toEqual(['corrected by Cora Corrector (publisher)', 'retracted by Cora Corrector (publisher)']);
    expect(errors).toEqual([]);
    await page.context().close();
  });
});
