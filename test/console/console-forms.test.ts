import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEntities, signedIn, startHarness, TOKENS, type Client, type Harness } from './harness.js';
import { seedSubscribers, storeAlert } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/context.js';
import { publishAlert } from '../../src/publish/publish.js';

// Bad and hostile input through the console's forms: clear errors naming the field, nothing stored
// or half-written, nothing run. Plus uploads, recipient look-up, channel health and the summary.

const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
  'hex',
);
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n');
const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>');

const valid = { title: 'A valid alert', level: 'warning', countries: 'KZ', summary: 'A summary.', language: 'en' };

function multipart(fields: Record<string, string>, files: Array<{ field: string; name: string; data: Buffer; type: string }>): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  for (const f of files) form.append(f.field, new Blob([new Uint8Array(f.data)], { type: f.type }), f.name);
  return form;
}

describe('console forms', () => {
  let h: Harness;
  let editor: Client;

  beforeAll(async () => {
    h = await startHarness('console-forms', { workers: true, overrides: { console: { maxUploadBytes: 64 * 1024, failureWarningThreshold: 2 } } });
    editor = await signedIn(h.baseUrl, TOKENS.editor, 'Ed Editor');
  });
  afterAll(async () => {
    await h.close();
  });

  const countAlerts = async () => (await h.ctx.alerts.list({ limit: 200 })).length;
  const compose = async (form: Record<string, string | string[]>) =>
    editor.request('/console/compose', { method: 'POST', form: { ...form, _csrf: await editor.csrf('/console/compose') } });

  it('names each bad field, keeps what was typed, and stores nothing', async () => {
    const before = await countAlerts();
    const response = await compose({
      title: '',
      level: 'catastrophe',
      countries: 'KZ, XX',
      summary: 'Kept as typed',
      imageUrl: 'https://example.org/a.jpg',
      imageAlt: '',
      imageCreditUrl: 'javascript:alert(1)',
      attachments: 'Report | not a url',
      issuedAt: 'yesterday',
    });
    expect(response.status).toBe(400);
    const html = decodeEntities(await response.text());
    for (const problem of [
      'Title: must not be empty',
      'Level: must be one of watch, warning, emergency (or null for a report)',
      'Countries: country 2: must be an ISO 3166-1 alpha-2 code such as KZ',
      'Image alt text: alt text is required so screen-reader users get the picture',
      'Image credit link: must be an http(s) URL',
      'Attachments: attachment 1 url: must be an http(s) URL',
      'Issued at (UTC): must be an ISO 8601 date-time',
    ]) {
      expect(html).toContain(problem);
    }
    expect(html).toContain('<a href="#f-title">');
    expect(html).toMatch(/id="f-title"[^>]*aria-invalid="true"/);
    expect(html).toContain('>Kept as typed</textarea>');
    expect(await countAlerts()).toBe(before);

    const crlf = await compose({ ...valid, title: 'Line one\r\nBcc: everyone@example.org' });
    expect(crlf.status).toBe(400);
    expect(decodeEntities(await crlf.text())).toContain('Title: must be one line without control characters');

    const huge = await editor.request('/console/compose', {
      method: 'POST',
      form: { ...valid, body: 'x'.repeat(1_200_000), _csrf: await editor.csrf('/console/compose') },
      headers: { accept: 'application/json' },
    });
    expect(huge.status).toBe(413);
    expect(await countAlerts()).toBe(before);
  });

  it('shows hostile text as text, in the page and in the sandboxed email preview', async () => {
    const response = await compose({
      ...valid,
      title: '<script>alert("t")</script> Alert',
      body: '<img src=x onerror=alert(1)> and [a link](javascript:alert(2))',
      region: '"><svg onload=alert(3)>',
    });
    expect(response.status).toBe(303);
    const page = await (await editor.request(response.headers.get('location')!.split('?')[0])).text();
    expect(page).not.toContain('<script>alert');
    expect(page).not.toContain('<img src=x');
    expect(page).not.toContain('<svg onload');
    expect(page).not.toMatch(/href="javascript:/i);
    expect(page).toContain('&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt; Alert');
    const srcdoc = /<iframe class="email"[^>]* sandbox srcdoc="([^"]*)"/.exec(page)![1];
    const emailHtml = decodeEntities(srcdoc);
    expect(emailHtml).not.toContain('<img src=x');
    expect(emailHtml).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('stores uploads by content under /media, and refuses disguised or oversized files', async () => {
    const csrf = await editor.csrf('/console/compose');
    const ok = await editor.request('/console/compose', {
      method: 'POST',
      body: multipart({ ...valid, _csrf: csrf, title: 'With uploads', imageAlt: 'A one-pixel picture' }, [
        { field: 'imageFile', name: 'pixel.png', data: PNG, type: 'image/png' },
        { field: 'attachmentFiles', name: 'Report | final.pdf', data: PDF, type: 'application/pdf' },
      ]),
    });
    expect(ok.status).toBe(303);
    const id = /alerts\/([0-9A-Z]{26})/.exec(ok.headers.get('location')!)![1];
    const alert = await h.ctx.alerts.require(id);
    expect(alert.image).toMatchObject({ alt: 'A one-pixel picture', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:8080\/media\/[0-9a-f]{64}\.png$/) });
    expect(alert.attachments).toEqual([
      { title: 'Report   final.pdf', url: expect.stringMatching(/\/media\/[0-9a-f]{64}\.pdf$/), mediaType: 'application/pdf', bytes: PDF.length },
    ]);
    const served = await fetch(h.baseUrl + new URL(alert.image!.url).pathname);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(served.headers.get('x-content-type-options')).toBe('nosniff');
    // An image is shown where it is linked; opened as a page it may run nothing.
    expect(served.headers.get('content-disposition')).toBe('inline');
    expect(served.headers.get('content-security-policy')).toMatch(/default-src 'none'.*; sandbox/);
    expect(Buffer.from(await served.arrayBuffer()).equals(PNG)).toBe(true);
    // A PDF is downloaded, never opened on the console's origin.
    const pdfPath = new URL(alert.attachments[0].url).pathname;
    const pdf = await fetch(h.baseUrl + pdfPath);
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(pdf.headers.get('content-disposition')).toBe(`attachment; filename="${pdfPath.split('/').pop()}"`);
    expect(pdf.headers.get('x-content-type-options')).toBe('nosniff');
    expect(pdf.headers.get('content-security-policy')).toMatch(/; sandbox$/);
    expect(Buffer.from(await pdf.arrayBuffer()).equals(PDF)).toBe(true);
    for (const path of ['/media/..%2f..%2fetc%2fpasswd', '/media/notahash.png', `/media/${'0'.repeat(64)}.png`])
      expect((await fetch(h.baseUrl + path)).status).toBe(404);

    const before = await countAlerts();
    const files = readdirSync(h.uploadsDir).length;
    const disguised = await editor.request('/console/compose', {
      method: 'POST',
      body: multipart({ ...valid, _csrf: await editor.csrf('/console/compose'), imageAlt: 'x' }, [
        { field: 'imageFile', name: 'cat.png', data: SVG, type: 'image/png' },
      ]),
    });
    expect(disguised.status).toBe(400);
    expect(decodeEntities(await disguised.text())).toContain('Image file: Invalid upload: Image file: only JPEG, PNG, GIF or WebP images are accepted');
    const pdfAsImage = await editor.request('/console/compose', {
      method: 'POST',
      body: multipart({ ...valid, _csrf: await editor.csrf('/console/compose'), imageAlt: 'x' }, [
        { field: 'imageFile', name: 'doc.png', data: PDF, type: 'image/png' },
      ]),
    });
    expect(pdfAsImage.status).toBe(400);
    const oversized = await editor.request('/console/compose', {
      method: 'POST',
      headers: { accept: 'text/html' },
      body: multipart({ ...valid, _csrf: await editor.csrf('/console/compose') }, [
        { field: 'attachmentFiles', name: 'big.pdf', data: Buffer.concat([PDF, Buffer.alloc(70 * 1024)]), type: 'application/pdf' },
      ]),
    });
    expect(oversized.status).toBe(413);
    expect(await oversized.text()).toContain(`An uploaded file is larger than ${64 * 1024} bytes.`);
    expect(await countAlerts()).toBe(before);
    expect(readdirSync(h.uploadsDir).length).toBe(files);
  });

  it('looks a recipient up by address and shows their history with the address masked', async () => {
    await seedSubscribers(
      h.ctx,
      2,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      (i) => `jane.doe${i}@example.org`,
    );
    const alert = await storeAlert(h.ctx, { title: 'Delivered alert' });
    await publishAlert(h.ctx, alert.id, 'test');
    await waitFor(async () => (await h.ctx.alerts.require(alert.id)).status === 'published', 'the alert to be published');

    const viewer = await signedIn(h.baseUrl, TOKENS.viewer, 'Vera');
    const response = await viewer.request('/console/recipients', {
      method: 'POST',
      form: { email: 'Jane.Doe1@example.org', _csrf: await viewer.csrf('/console/recipients') },
    });
    expect(response.status).toBe(200);
    const html = decodeEntities(await response.text());
    expect(html).toContain('Results for ja***@ex***.org');
    expect(html).toContain('Delivered alert');
    expect(html).toMatch(/data-status="sent"/);
    expect(html.toLowerCase()).not.toContain('jane.doe1@example.org');

    const unknown = await viewer.request('/console/recipients', {
      method: 'POST',
      form: { email: 'nobody@example.org', _csrf: await viewer.csrf('/console/recipients') },
    });
    expect(decodeEntities(await unknown.text())).toContain('No subscriber has this address.');
    const garbage = await viewer.request('/console/recipients', {
      method: 'POST',
      form: { email: 'not an address', _csrf: await viewer.csrf('/console/recipients') },
    });
    expect(decodeEntities(await garbage.text())).toContain('Email address: is not a valid email address');
    const bad = await viewer.request('/console/recipients', {
      method: 'POST',
      form: { email: 'jane@example.org\r\nBcc: all@example.org', _csrf: await viewer.csrf('/console/recipients') },
    });
    expect(bad.status).toBe(400);
    expect(decodeEntities(await bad.text())).toContain('Email address: must not contain line breaks');
  });

  it('warns on the health page after N failures in a row, and checks credentials on request', async () => {
    await h.ctx.health.recordDelivery('partners', false, 'HTTP 500: boom');
    const viewer = await signedIn(h.baseUrl, TOKENS.viewer, 'Vera');
    let html = decodeEntities(await (await viewer.request('/console/health')).text());
    expect(html).not.toContain('Warning: 1');
    await h.ctx.health.recordDelivery('partners', false, 'HTTP 500: boom');
    html = decodeEntities(await (await viewer.request('/console/health')).text());
    expect(html).toContain('Warning: 1 channel has failed 2 or more deliveries in a row.');
    expect(html).toContain('Warning: 2');
    expect(html).toContain('Last error: HTTP 500: boom');
    expect(html).not.toContain('Check credentials now');

    const check = await editor.request('/console/health/check', { method: 'POST', form: { _csrf: await editor.csrf('/console/health') } });
    expect(check.status).toBe(303);
    const health = await h.ctx.health.all();
    expect(health.partners.lastCheck).toMatchObject({ ok: true, detail: 'HEAD answered 200' });
    expect(health.email.lastCheck).toMatchObject({ ok: true });
    html = decodeEntities(await (await viewer.request('/console/health')).text());
    expect(html).toMatch(/<tr data-channel="email">[\s\S]*?OK<\/span>/);
  });

  it('summarises subscribers by status, country and level without a single address', async () => {
    await seedSubscribers(
      h.ctx,
      3,
      () => ({ countries: ['UA', 'KZ'], minLevel: 'emergency' }),
      (i) => `summary${i}@example.org`,
    );
    const pending = await h.ctx.subscribers.create({
      email: 'pending@example.org',
      countries: '*',
      minLevel: 'all',
      status: 'pending',
      language: 'en',
      consentSource: 'form',
    });
    expect(pending.created).toBe(true);
    const viewer = await signedIn(h.baseUrl, TOKENS.viewer, 'Vera');
    const html = decodeEntities(await (await viewer.request('/console/subscribers')).text());
    expect(html).toMatch(/<th scope="row">pending<\/th><td class="num">1<\/td>/);
    expect(html).toMatch(/<th scope="row">Ukraine \(UA\)<\/th><td class="num">3<\/td>/);
    expect(html).toMatch(/<th scope="row">Emergency only<\/th><td class="num">3<\/td>/);
    expect(html).not.toMatch(/[a-z0-9.]+@example\.org/);
  });
});
