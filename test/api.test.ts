import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { testContext, dropPrefix, prefixKeys } from './helpers/context.js';
import { exampleAlertSource } from './helpers/fixtures.js';
import { buildServer } from '../src/http/server.js';
import type { Context } from '../src/context.js';

const TOKEN = 'test-admin-token-0123456789';

describe('alerts API', () => {
  let ctx: Context;
  let app: FastifyInstance;
  let base: string;
  const api = (path: string, init: RequestInit = {}, token: string | null = TOKEN) =>
    fetch(`${base}${path}`, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string>) } });
  const postJson = (path: string, body: unknown, token: string | null = TOKEN) =>
    api(path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } }, token);

  const valid = {
    level: 'warning',
    countries: ['sd'],
    title: 'Genocide Warning: Sudan, Darfur',
    summary: 'Militia attacks on Masalit villages have resumed.',
    body: 'Reports from **El Geneina** describe house-to-house killings.',
    stages: [7, 'Persecution'],
    recommendations: ['Renew the arms embargo.'],
  };

  beforeAll(async () => {
    ctx = await testContext('api', { http: { bodyLimitBytes: 64 * 1024 } });
    app = await buildServer(ctx);
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app.close();
    await dropPrefix(ctx);
    await ctx.close();
  });

  it('creates, lists and fetches alerts; stages are stored by number and name', async () => {
    const created = await postJson('/api/alerts', valid);
    expect(created.status).toBe(201);
    const alert = await created.json();
    expect(alert).toMatchObject({ status: 'draft', countries: ['SD'], slug: 'genocide-warning-sudan-darfur' });
    expect(alert.stages).toEqual([
      { number: 7, name: 'Preparation' },
      { number: 8, name: 'Persecution' },
    ]);
    expect(alert.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);

    const md = await api('/api/alerts', { method: 'POST', body: exampleAlertSource(), headers: { 'content-type': 'text/markdown' } });
    expect(md.status).toBe(201);
    const list = await (await api('/api/alerts')).json();
    expect(list.alerts.map((a: { title: string }) => a.title)).toEqual([
      'Genocide Emergency Alert: Kazakhstan, January 2022',
      'Genocide Warning: Sudan, Darfur',
    ]);
    const bySlug = await (await api('/api/alerts/genocide-warning-sudan-darfur')).json();
    expect(bySlug.id).toBe(alert.id);
    expect((await api('/api/alerts/no-such-alert')).status).toBe(404);
  });

  it('publishes once; a second publish is a no-op that says so', async () => {
    const alert = await (await postJson('/api/alerts', { ...valid, slug: 'publish-twice' })).json();
    const first = await api(`/api/alerts/${alert.id}/publish`, { method: 'POST' });
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({ outcome: 'queued', status: 'publishing' });
    const second = await api(`/api/alerts/${alert.id}/publish`, { method: 'POST' });
    expect(second.status).toBe(200);
    expect(await second.json()).toMatchObject({
      outcome: 'already',
      status: 'publishing',
      message: expect.stringMatching(/already publishing; nothing was sent again/),
    });
    const status = await (await api(`/api/alerts/${alert.id}/status`)).json();
    expect(status.alert.status).toBe('publishing');
    expect(status.complete).toBe(false);
  });

  it('refuses requests without the admin token, or with a forged one', async () => {
    expect((await api('/api/alerts', {}, null)).status).toBe(401);
    expect((await api('/api/alerts', {}, 'not-the-token-0123456789')).status).toBe(401);
    const res = await postJson('/api/alerts', valid, 'forged');
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'TOCSIN_ERR_UNAUTHORIZED' });
  });

  it.each([
    ['malformed JSON', '{"title": ', /Unexpected end|JSON/i, 'FST_ERR_CTP_INVALID_JSON_BODY'],
    ['an array', [], /\(root\): must be an object/, 'TOCSIN_ERR_ALERT_INVALID'],
    ['a missing title', { ...valid, title: undefined }, /title: is required/, 'TOCSIN_ERR_ALERT_INVALID'],
    ['an unknown country', { ...valid, countries: ['XX'] }, /countries\.0: must be an ISO 3166-1 alpha-2 code/, 'TOCSIN_ERR_ALERT_INVALID'],
    ['an unknown level', { ...valid, level: 'catastrophe' }, /level: must be one of watch, warning, emergency/, 'TOCSIN_ERR_ALERT_INVALID'],
    ['stage 11', { ...valid, stages: [11] }, /stages\.0: "11" is not one of the ten stages/, 'TOCSIN_ERR_ALERT_INVALID'],
    [
      'a stage whose name contradicts its number',
      { ...valid, stages: [{ number: 4, name: 'Denial' }] },
      /stage 4 is Dehumanization, not "Denial"/,
      'TOCSIN_ERR_ALERT_INVALID',
    ],
    ['CRLF in the title', { ...valid, title: 'Alert\r\nBcc: everyone@example.org' }, /title: must be one line/, 'TOCSIN_ERR_ALERT_INVALID'],
    [
      'a javascript: image URL',
      { ...valid, image: { url: 'javascript:alert(1)', alt: 'x' } },
      /image\.url: must be an http\(s\) URL/,
      'TOCSIN_ERR_ALERT_INVALID',
    ],
    ['an image without alt text', { ...valid, image: { url: 'https://example.org/a.jpg' } }, /image\.alt: is required/, 'TOCSIN_ERR_ALERT_INVALID'],
    ['a server-owned field', { ...valid, status: 'published' }, /Unrecognized key: "status"/, 'TOCSIN_ERR_ALERT_INVALID'],
  ])('rejects %s with a message naming the field', async (_name, body, message, code) => {
    const before = await prefixKeys(ctx);
    const res = await postJson('/api/alerts', body);
    expect(res.status).toBe(400);
    const json = await res.json();
    expect(json.code).toBe(code);
    expect(json.error).toMatch(message);
    expect(await prefixKeys(ctx)).toEqual(before);
  });

  it('rejects an oversize body with 413 and stores nothing', async () => {
    const before = await prefixKeys(ctx);
    const res = await postJson('/api/alerts', { ...valid, body: 'x'.repeat(70 * 1024) });
    expect(res.status).toBe(413);
    expect((await res.json()).code).toBe('FST_ERR_CTP_BODY_TOO_LARGE');
    expect(await prefixKeys(ctx)).toEqual(before);
  });

  it('refuses a second alert with the same slug and keeps the first intact', async () => {
    const first = await (await postJson('/api/alerts', { ...valid, slug: 'unique-slug' })).json();
    const res = await postJson('/api/alerts', { ...valid, slug: 'unique-slug', title: 'Replacement' });
    expect(res.status).toBe(409);
    expect((await res.json()).code).toBe('TOCSIN_ERR_ALERT_EXISTS');
    expect((await (await api('/api/alerts/unique-slug')).json()).title).toBe(first.title);
  });

  it('escapes hostile HTML in the Markdown body of the rendered email', async () => {
    const { renderAlertEmail } = await import('../src/render/email.js');
    const alert = await (
      await postJson('/api/alerts', {
        ...valid,
        slug: 'hostile',
        title: 'T <img src=x onerror=alert(1)>',
        body: '<script>steal()</script>\n\n[x](javascript:alert(1))',
      })
    ).json();
    const email = await renderAlertEmail(alert, ctx.config);
    expect(email.html).not.toMatch(/<script>|<img src=x|href="javascript:/i);
    expect(email.html).toContain('&lt;script&gt;steal()&lt;/script&gt;');
    expect(email.html).toContain('T &lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
  });
});
