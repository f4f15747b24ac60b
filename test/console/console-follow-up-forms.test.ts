import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEntities, signedIn, startHarness, TOKENS, type Client, type Harness } from './harness.js';
import { seedSubscribers, storeAlert } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/context.js';
import { publishAlert } from '../../src/publish/publish.js';
import { haltAlert } from '../../src/publish/halt.js';
import { correctAlert } from '../../src/publish/follow-up.js';
import { toAlertInput, valuesFromAlert } from '../../src/console/compose-form.js';
import type { Alert } from '../../src/domain/alert.js';

// The stop, resume, correct and retract forms over HTTP, as a browser without script sends them:
// who may use them, what they refuse (naming the field), and that a refused form sends nothing.

const json = { accept: 'application/json' };
/** A page's text without its markup, as a reader sees it. */
const plain = (html: string) =>
  html
    .replace(/<[^>]+>/g, '')
    .replace(/\s+/g, ' ')
    .trim();

describe('console: stop, resume, correct and retract forms', () => {
  let h: Harness;
  let publisher: Client;
  let n = 0;

  beforeAll(async () => {
    h = await startHarness('console-follow-up-forms', { workers: true });
    publisher = await signedIn(h.baseUrl, TOKENS.publisher, 'Pat Publisher');
  });
  afterAll(async () => {
    h.smtp.behaviour.holdData = undefined;
    await h.close();
  });

  /** A published alert to two subscribers of a country of its own. */
  async function published(): Promise<Alert> {
    const country = ['SS', 'ER', 'SD', 'ML', 'BF'][n++];
    await seedSubscribers(
      h.ctx,
      2,
      () => ({ countries: [country], minLevel: 'all' }),
      (i) => `${country.toLowerCase()}${i}@example.org`,
    );
    const alert = await storeAlert(h.ctx, { countries: [country], level: 'warning', image: undefined, title: `Genocide Warning: ${country}` });
    await publishAlert(h.ctx, alert.id, 'Setup Person');
    return waitFor(async () => {
      const a = await h.ctx.alerts.require(alert.id);
      return a.status === 'published' ? a : undefined;
    }, 'the alert to be published');
  }

  /** The correction form's fields as the page prefills them. */
  const correctionForm = (alert: Alert, extra: Record<string, string>) => {
    const values = valuesFromAlert(alert);
    return { ...values, stages: values.stages, ...extra } as Record<string, string | string[]>;
  };

  async function post(client: Client, path: string, form: Record<string, string | string[]>, csrfFrom = '/console/alerts') {
    return client.request(path, { method: 'POST', form: { ...form, _csrf: await client.csrf(csrfFrom) } });
  }

  it('refuses viewers and editors every one of them, with a valid form, and changes nothing', async () => {
    const alert = await published();
    const before = { audit: (await h.ctx.audit.list(alert.id)).length, mail: h.smtp.received.length };
    for (const [token, role] of [
      [TOKENS.viewer, 'viewer'],
      [TOKENS.editor, 'editor'],
    ] as const) {
      const client = await signedIn(h.baseUrl, token, `A ${role}`);
      for (const [action, form] of [
        ['halt', { confirm: 'yes', reason: 'testing' }],
        ['resume', { confirm: 'yes' }],
        ['correct', correctionForm(alert, { note: 'A change.', title: 'Changed by a viewer', basedOn: '1' })],
        ['retract', { confirm: 'yes', reason: 'testing' }],
      ] as const) {
        const path = `/console/alerts/${alert.id}/${action}`;
        const page = await client.request(path, { headers: json });
        expect(page.status, `${role} GET ${action}`).toBe(403);
        const sent = await client.request(path, { method: 'POST', form: { ...form, _csrf: await client.csrf('/console/alerts') }, headers: json });
        expect(sent.status, `${role} POST ${action}`).toBe(403);
        expect((await sent.json()).error).toBe(`Not allowed: this needs the publisher role; A ${role} is signed in as ${role}`);
      }
      // Nor are they offered on the alert page.
      const html = await (await client.request(`/console/alerts/${alert.id}`)).text();
      for (const offer of ['Correct…', 'Retract…', 'Stop sending…', 'Resume sending…']) expect(html).not.toContain(offer);
    }
    expect(await h.ctx.halts.get(alert.id)).toBeNull();
    expect(await h.ctx.versions.count(alert.id)).toBe(1);
    expect((await h.ctx.alerts.require(alert.id)).status).toBe('published');
    expect((await h.ctx.audit.list(alert.id)).length).toBe(before.audit);
    expect(h.smtp.received.length).toBe(before.mail);
  });

  it('refuses a correction without "What changed" or with a bad field, naming it, and sends nothing', async () => {
    const alert = await published();
    const path = `/console/alerts/${alert.id}/correct`;
    const mail = h.smtp.received.length;

    const page = decodeEntities(await (await publisher.request(path)).text());
    expect(page).toContain(`value="${alert.title}"`);
    expect(plain(page)).toContain('Email: 2 subscribers who received an earlier version get “Correction: …” as a reply to it.');

    const noNote = await post(publisher, path, correctionForm(alert, { note: '  ', basedOn: '1', title: 'Genocide Warning: corrected' }), path);
    expect(noNote.status).toBe(400);
    const noNoteHtml = decodeEntities(await noNote.text());
    expect(noNoteHtml).toContain('<a href="#f-note">What changed: say what changed, in words readers will see');
    expect(noNoteHtml).toMatch(/id="f-note"[^>]*aria-invalid="true"/);
    expect(noNoteHtml).toContain('value="Genocide Warning: corrected"');

    const badFields = await post(
      publisher,
      path,
      correctionForm(alert, { note: 'The country was wrong.', basedOn: '1', countries: 'XX', title: 'Line one\r\nBcc: everyone@example.org' }),
      path,
    );
    expect(badFields.status).toBe(400);
    const badHtml = decodeEntities(await badFields.text());
    expect(badHtml).toContain('Countries: country 1: must be an ISO 3166-1 alpha-2 code such as KZ');
    expect(badHtml).toContain('Title: must be one line without control characters');
    expect(badHtml).toContain('>The country was wrong.</textarea>');

    // "Update preview" without script shows the form with the preview (the correction as it will be sent) and sends nothing.
    const preview = await post(publisher, path, correctionForm(alert, { note: 'A change.', basedOn: '1', intent: 'preview', title: 'Previewed title' }), path);
    expect(preview.status).toBe(200);
    expect(decodeEntities(await preview.text())).toContain('<span data-preview="subject">Correction: Previewed title</span>');

    expect(await h.ctx.versions.count(alert.id)).toBe(1);
    expect((await h.ctx.alerts.require(alert.id)).title).toBe(alert.title);
    // No follow-up delivery was made: no ledger channel of a version 2, no mail.
    expect(await h.ctx.ledger.channels(alert.id)).toEqual(['email', 'partners']);
    expect(h.smtp.received.length).toBe(mail);
  });

  it('does not overwrite a correction published after the form was opened, and sends a repeated one once', async () => {
    const alert = await published();
    const path = `/console/alerts/${alert.id}/correct`;
    // Someone else corrects it (the CLI here) while this form is open on version 1.
    const fields = toAlertInput(valuesFromAlert(alert), undefined, true).input!;
    await correctAlert(h.ctx, alert.id, { ...fields, summary: 'Their summary.' }, 'Their correction.', 'Other Person');

    const mine = correctionForm(alert, { note: 'My correction.', basedOn: '1', summary: 'My summary.' });
    const stale = await post(publisher, path, mine, path);
    expect(stale.status).toBe(409);
    const staleHtml = decodeEntities(await stale.text());
    expect(staleHtml).toMatch(/Version 2 \(correction\) was published by Other Person on \d{4}-\d\d-\d\d \d\d:\d\d UTC, after you opened this form/);
    expect(staleHtml).toContain('name="basedOn" value="2"');
    expect(await h.ctx.versions.count(alert.id)).toBe(2);

    // Having seen it, the publisher sends theirs: version 3.
    const sent = await post(publisher, path, { ...mine, basedOn: '2' }, path);
    expect(sent.status).toBe(303);
    expect(sent.headers.get('location')).toBe(`/console/alerts/${alert.id}?notice=corrected&n=3`);
    // The same correction again changes nothing and sends nothing.
    const again = await post(publisher, path, { ...mine, basedOn: '3' }, path);
    expect(again.headers.get('location')).toBe(`/console/alerts/${alert.id}?notice=correction-already&n=3`);
    expect(await h.ctx.versions.count(alert.id)).toBe(3);
    expect(decodeEntities(await (await publisher.request(`/console/alerts/${alert.id}?notice=correction-already&n=3`)).text())).toContain(
      'Version 3 is already this correction; nothing was sent again.',
    );
    const audit = (await h.ctx.audit.list(alert.id)).map((e) => `${e.action} ${e.actor} ${e.role ?? '-'}`);
    expect(audit).toEqual(['corrected Other Person -', 'corrected Pat Publisher publisher']);
  });

  it('retracts only after the confirmation step, with a reason', async () => {
    const alert = await published();
    const path = `/console/alerts/${alert.id}/retract`;
    const noReason = await post(publisher, path, { reason: ' ' }, path);
    expect(noReason.status).toBe(400);
    expect(decodeEntities(await noReason.text())).toContain('Reason: say why it is retracted; readers see it on the public page and in the retraction');

    // The first post only shows the confirmation, with the box left unticked.
    const confirm = await post(publisher, path, { reason: 'The source withdrew the report.' }, path);
    expect(confirm.status).toBe(200);
    const confirmHtml = decodeEntities(await confirm.text());
    expect(confirmHtml).toContain('<dd id="confirm-reason">The source withdrew the report.</dd>');
    expect(confirmHtml).toContain('<dd id="confirm-delete">kept</dd>');
    expect(confirmHtml).not.toContain('name="deleteOriginals"');
    expect(await h.ctx.versions.count(alert.id)).toBe(1);

    // What staff type is shown as text, never as markup.
    const reason = 'The source withdrew the report. <script>alert(1)</script>';
    const done = await post(publisher, path, { reason, confirm: 'yes' }, path);
    expect(done.headers.get('location')).toBe(`/console/alerts/${alert.id}?notice=retracted&n=2`);
    const raw = await (await publisher.request(`/console/alerts/${alert.id}`)).text();
    expect(raw).not.toContain('<script>alert(1)</script>');
    expect(raw).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    const page = decodeEntities(raw);
    expect(page).toMatch(
      /<strong>Retracted on <time datetime="[^"]+">[^<]+<\/time><\/strong> because The source withdrew the report\. <script>alert\(1\)<\/script> \(Pat Publisher\)/,
    );
    expect(await h.ctx.audit.list(alert.id)).toEqual([expect.objectContaining({ action: 'retracted', actor: 'Pat Publisher', role: 'publisher' })]);

    // Retracted: it cannot be corrected, nor retracted again.
    expect(decodeEntities(await (await publisher.request(`/console/alerts/${alert.id}/correct`)).text())).toContain(
      'This alert was retracted; a retracted alert cannot be corrected.',
    );
    const twice = await post(publisher, path, { reason: 'again', confirm: 'yes' }, path);
    expect(twice.status).toBe(409);
    expect(await h.ctx.versions.count(alert.id)).toBe(2);
  });

  it('says why when there is nothing to stop, resume, correct or retract', async () => {
    const draft = await storeAlert(h.ctx, { image: undefined });
    for (const [action, words] of [
      ['halt', 'This alert is not going out: nothing is waiting to be sent, so there is nothing to stop.'],
      ['resume', 'This alert is not halted, so there is nothing to resume.'],
      ['correct', 'This alert is draft and has not gone out, so there is nothing to correct. Edit the draft instead.'],
      ['retract', 'This alert is draft and has not gone out, so there is nothing to retract.'],
    ] as const) {
      const page = await publisher.request(`/console/alerts/${draft.id}/${action}`);
      expect(page.status, action).toBe(200);
      const html = decodeEntities(await page.text());
      expect(html, action).toContain(words);
      expect(html, action).not.toMatch(/<button type="submit"[^>]*(id="halt-now"|id="resume-now"|id="publish-correction"|id="retract-continue")/);
    }
    for (const [action, code] of [
      ['correct', 'TOCSIN_ERR_ALERT_NOT_FOLLOWABLE'],
      ['retract', 'TOCSIN_ERR_ALERT_NOT_FOLLOWABLE'],
      ['resume', 'TOCSIN_ERR_ALERT_NOT_HALTED'],
    ] as const) {
      const refused = await publisher.request(`/console/alerts/${draft.id}/${action}`, {
        method: 'POST',
        form: { confirm: 'yes', reason: 'x', note: 'x', _csrf: await publisher.csrf('/console/alerts') },
        headers: json,
      });
      expect(refused.status, action).toBe(409);
      expect((await refused.json()).code, action).toBe(code);
    }
    // A halt needs the confirmation page's button; and an alert that finished has nothing to halt.
    const alert = await published();
    const bare = await post(publisher, `/console/alerts/${alert.id}/halt`, { reason: 'no confirm' });
    expect(bare.status).toBe(303);
    expect(bare.headers.get('location')).toBe(`/console/alerts/${alert.id}/halt`);
    const late = await publisher.request(`/console/alerts/${alert.id}/halt`, {
      method: 'POST',
      form: { confirm: 'yes', reason: 'too late', _csrf: await publisher.csrf('/console/alerts') },
      headers: json,
    });
    expect(late.status).toBe(409);
    expect((await late.json()).code).toBe('TOCSIN_ERR_ALERT_NOT_HALTABLE');
    expect(await h.ctx.halts.get(alert.id)).toBeNull();
    expect(await h.ctx.halts.get(draft.id)).toBeNull();
  });

  it('never resumes a halt that a correction replaced: that would send the old text', async () => {
    await seedSubscribers(
      h.ctx,
      30,
      () => ({ countries: ['NE'], minLevel: 'all' }),
      (i) => `ne${i}@example.org`,
    );
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    h.smtp.behaviour.holdData = (to) => (to[0]?.startsWith('ne') ? held : undefined);
    const alert = await storeAlert(h.ctx, { countries: ['NE'], level: 'warning', image: undefined, title: 'Genocide Warning: Niger' });
    await publishAlert(h.ctx, alert.id, 'Setup Person');
    await waitFor(async () => h.smtp.held > 0 && ((await h.ctx.ledger.counts(alert.id)).channels.email?.queued ?? 0) > 0, 'sends held, more waiting');
    await haltAlert(h.ctx, alert.id, 'Pat Publisher', 'wrong title');
    release();
    h.smtp.behaviour.holdData = undefined;
    const fields = toAlertInput(valuesFromAlert(alert), undefined, true).input!;
    await correctAlert(h.ctx, alert.id, { ...fields, title: 'Genocide Warning: Niger, corrected' }, 'The title was wrong.', 'Pat Publisher');
    expect((await h.ctx.alerts.require(alert.id)).status).toBe('corrected');
    expect(await h.ctx.halts.get(alert.id)).not.toBeNull();

    const page = decodeEntities(await (await publisher.request(`/console/alerts/${alert.id}`)).text());
    expect(page).toContain('The earlier version was halted');
    expect(page).not.toContain('Resume sending…');
    const resume = await publisher.request(`/console/alerts/${alert.id}/resume`, {
      method: 'POST',
      form: { confirm: 'yes', _csrf: await publisher.csrf('/console/alerts') },
      headers: json,
    });
    expect(resume.status).toBe(409);
    expect((await resume.json()).error).toBe(`Alert ${alert.slug} is not halted (status "corrected")`);
    expect((await h.ctx.audit.list(alert.id)).map((e) => e.action)).not.toContain('resumed');
  });
});
