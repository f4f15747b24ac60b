import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, decodeEntities, signedIn, startHarness, TOKENS, type Harness } from './harness.js';
import { routeTable, type RouteEntry } from './route-table.js';
import { storeAlert } from '../helpers/fixtures.js';
import { ROLE_RANK } from '../../src/console/roles.js';
import { consoleAuthHook } from '../../src/console/external-auth.js';
import Fastify from 'fastify';
import type { ConsoleRole } from '../../src/config/schema.js';

// Who may do what in the console. The routes come from Fastify's route table, so a route added
// later is checked without anyone remembering to list it here.

/** The policy, in one place: reading is for everyone signed in; writing drafts needs editor; anything that sends needs publisher. */
function minimumRole({ method, path }: RouteEntry): ConsoleRole {
  if (/\/alerts\/:id\/(publish|approve|retry|resolve|schedule|schedule\/cancel|halt|resume|correct|retract)$/.test(path)) return 'publisher';
  if (path === '/console/logout' || path === '/console/recipients') return 'viewer';
  if (/^\/console\/(compose|preview|health\/check)$/.test(path) || path.endsWith('/edit')) return 'editor';
  return method === 'GET' || method === 'HEAD' ? 'viewer' : 'publisher';
}

describe('console access', () => {
  let h: Harness;
  let alertId: string;
  let routes: RouteEntry[];

  beforeAll(async () => {
    // Served behind a TLS-terminating proxy that sets X-Forwarded-Proto, as in production.
    h = await startHarness('console-auth', { overrides: { http: { trustProxy: '127.0.0.1' } } });
    alertId = (await storeAlert(h.ctx)).id;
    routes = routeTable(h.app).filter((r) => r.path.startsWith('/console') && r.path !== '/console/login');
  });
  afterAll(async () => {
    await h.close();
  });

  const url = (r: RouteEntry) => h.baseUrl + r.path.replace(':id', alertId);
  const call = async (r: RouteEntry, cookie?: string, extra: Record<string, string> = {}) => {
    const abort = new AbortController();
    const response = await fetch(url(r), {
      method: r.method,
      headers: {
        accept: 'application/json',
        ...(cookie ? { cookie } : {}),
        ...(r.method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: r.method === 'POST' ? new URLSearchParams(extra).toString() : undefined,
      redirect: 'manual',
      signal: abort.signal,
    });
    // The event stream never ends by itself; its headers are all that is needed here.
    const text = r.path.endsWith('/events') && response.status === 200 ? '' : await response.text();
    abort.abort();
    return { status: response.status, text };
  };

  it('finds every console route in the route table', () => {
    const names = routes.map((r) => `${r.method} ${r.path}`);
    for (const expected of [
      'GET /console/alerts',
      'GET /console/alerts/:id/events',
      'POST /console/alerts/:id/retry',
      'POST /console/alerts/:id/publish',
      'POST /console/compose',
      'GET /console/health',
      'GET /console/subscribers',
      'GET /console/alerts/:id/audit.csv',
      'GET /console/alerts/:id/halt',
      'POST /console/alerts/:id/halt',
      'GET /console/alerts/:id/resume',
      'POST /console/alerts/:id/resume',
      'GET /console/alerts/:id/correct',
      'POST /console/alerts/:id/correct',
      'GET /console/alerts/:id/retract',
      'POST /console/alerts/:id/retract',
    ]) {
      expect(names).toContain(expected);
    }
    expect(routes.length).toBeGreaterThan(30);
  });

  it('answers 401 to every console route without a valid session', async () => {
    const forged = `tocsin_console=${'A'.repeat(43)}.${'B'.repeat(43)}`;
    const unsigned = `tocsin_console=${'A'.repeat(43)}`;
    for (const r of routes) {
      for (const cookie of [undefined, forged, unsigned]) {
        const { status, text } = await call(r, cookie);
        expect(status, `${r.method} ${r.path} with ${cookie ?? 'no cookie'}`).toBe(401);
        if (r.method !== 'HEAD') expect(JSON.parse(text).code).toBe('TOCSIN_ERR_UNAUTHORIZED');
      }
    }
    // A browser gets the sign-in form, with the same status.
    const page = await fetch(`${h.baseUrl}/console/alerts/${alertId}`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(401);
    const html = await page.text();
    expect(html).toContain('Please sign in');
    expect(html).toContain(`name="next" value="/console/alerts/${alertId}"`);
  });

  it('answers 403 to every route above the signed-in role, and lets each role do what it may', async () => {
    const clients = {
      viewer: await signedIn(h.baseUrl, TOKENS.viewer, 'Vera Viewer'),
      editor: await signedIn(h.baseUrl, TOKENS.editor, 'Ed Editor'),
      publisher: await signedIn(h.baseUrl, TOKENS.publisher, 'Pat Publisher'),
    };
    let refused = 0;
    for (const role of ['viewer', 'editor', 'publisher'] as const) {
      for (const r of routes) {
        if (r.path === '/console/logout') continue; // would end the session used for the rest
        const need = minimumRole(r);
        const { status, text } = await call(r, clients[role].cookieHeader);
        const what = `${role} ${r.method} ${r.path}`;
        if (ROLE_RANK[role] < ROLE_RANK[need]) {
          refused++;
          expect(status, what).toBe(403);
          if (r.method !== 'HEAD') expect(JSON.parse(text).error, what).toContain(`needs the ${need} role`);
        } else {
          expect(status, what).not.toBe(401);
          // Allowed: a POST without its CSRF token is refused for that reason, never for the role.
          if (status === 403) expect(JSON.parse(text).error, what).toMatch(/CSRF/);
          if (r.method === 'GET' && !r.path.endsWith('/events')) expect([200, 303], what).toContain(status);
        }
      }
    }
    expect(refused).toBeGreaterThan(20);
  });

  it('refuses a form posted without its CSRF token, or with another session’s, and stores nothing', async () => {
    const editor = await signedIn(h.baseUrl, TOKENS.editor, 'Ed Editor');
    const other = await signedIn(h.baseUrl, TOKENS.editor, 'Someone Else');
    const form = { title: 'CSRF probe', countries: 'KZ', summary: 'A summary.', level: 'warning', language: 'en' };
    const before = (await h.ctx.alerts.list({ limit: 200 })).length;

    const missing = await editor.request('/console/compose', { method: 'POST', form, headers: { accept: 'application/json' } });
    expect(missing.status).toBe(403);
    expect((await missing.json()).error).toMatch(/CSRF/);

    const foreign = await editor.request('/console/compose', {
      method: 'POST',
      form: { ...form, _csrf: await other.csrf('/console/compose') },
      headers: { accept: 'application/json' },
    });
    expect(foreign.status).toBe(403);

    const multipart = new FormData();
    for (const [k, v] of Object.entries(form)) multipart.append(k, v);
    const noTokenMultipart = await editor.request('/console/compose', { method: 'POST', body: multipart, headers: { accept: 'application/json' } });
    expect(noTokenMultipart.status).toBe(403);
    expect((await h.ctx.alerts.list({ limit: 200 })).length).toBe(before);

    const ok = await editor.request('/console/compose', { method: 'POST', form: { ...form, _csrf: await editor.csrf('/console/compose') } });
    expect(ok.status).toBe(303);
    expect((await h.ctx.alerts.list({ limit: 200 })).length).toBe(before + 1);

    // Signing in is a form too.
    const anonymous = new Client(h.baseUrl);
    const login = await anonymous.request('/console/login', { method: 'POST', form: { token: TOKENS.publisher, name: 'Mallory' } });
    expect(login.status).toBe(403);
    expect(anonymous.cookieHeader).not.toContain('tocsin_console');
  });

  it('keeps the session in an httpOnly, SameSite=Strict cookie, Secure over https, expiring in Redis', async () => {
    const client = new Client(h.baseUrl);
    const csrf = await client.csrf('/console/login');
    const response = await client.request('/console/login', { method: 'POST', form: { _csrf: csrf, token: TOKENS.viewer, name: 'Vera' } });
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('tocsin_console='))!;
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).not.toMatch(/; Secure/);
    const sessionId = decodeURIComponent(cookie.split(';')[0].split('=')[1]).split('.')[0];
    const ttl = await h.ctx.redis.ttl(h.ctx.keys.consoleSession(sessionId));
    expect(ttl).toBeGreaterThan(h.ctx.config.console.sessionIdleMinutes * 60 - 10);
    expect(ttl).toBeLessThanOrEqual(h.ctx.config.console.sessionIdleMinutes * 60);

    const overHttps = new Client(h.baseUrl);
    const csrf2 = await overHttps.csrf('/console/login');
    const secure = await overHttps.request('/console/login', {
      method: 'POST',
      form: { _csrf: csrf2, token: TOKENS.viewer, name: 'Vera' },
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(secure.headers.getSetCookie().find((c) => c.startsWith('tocsin_console='))).toMatch(/; Secure/);

    // Signing out ends the session in Redis, not just in the browser.
    expect((await client.request('/console/alerts')).status).toBe(200);
    const stolen = client.cookieHeader;
    const out = await client.request('/console/logout', { method: 'POST', form: { _csrf: await client.csrf('/console/alerts') } });
    expect(out.status).toBe(303);
    expect(await h.ctx.redis.exists(h.ctx.keys.consoleSession(sessionId))).toBe(0);
    expect((await fetch(`${h.baseUrl}/console/alerts`, { headers: { cookie: stolen } })).status).toBe(401);
  });

  it('marks the cookies Secure when the public URL is https, even when the TLS proxy is not trusted', async () => {
    // The proxy terminates TLS but trustProxy is unset: the request looks like plain http.
    const tls = await startHarness('console-auth-tls', { overrides: { http: { publicUrl: 'https://alerts.example.org' } } });
    try {
      const client = new Client(tls.baseUrl);
      const page = await client.request('/console/login');
      expect(page.headers.getSetCookie().find((c) => c.startsWith('tocsin_csrf='))).toMatch(/; Secure/);
      const csrf = decodeEntities(/name="_csrf" value="([^"]+)"/.exec(await page.text())![1]);
      const signedIn = await client.request('/console/login', { method: 'POST', form: { _csrf: csrf, token: TOKENS.viewer, name: 'Vera' } });
      expect(signedIn.status).toBe(303);
      expect(signedIn.headers.getSetCookie().find((c) => c.startsWith('tocsin_console='))).toMatch(/; Secure/);
    } finally {
      await tls.close();
    }
  });

  it('ends sessions opened with a token that is no longer configured', async () => {
    const client = await signedIn(h.baseUrl, TOKENS.editor, 'Ed');
    const sessionId = decodeURIComponent(client.cookieHeader.match(/tocsin_console=([^;]+)/)![1]).split('.')[0];
    const key = h.ctx.keys.consoleSession(sessionId);
    const stored = JSON.parse((await h.ctx.redis.get(key))!);
    await h.ctx.redis.set(key, JSON.stringify({ ...stored, fingerprint: 'rotated-away' }), 'KEEPTTL');
    expect((await client.request('/console/alerts')).status).toBe(401);
    expect(await h.ctx.redis.exists(key)).toBe(0);
  });

  it('refuses a wrong token or a bad name, and never redirects outside the console', async () => {
    const client = new Client(h.baseUrl);
    const wrong = await client.request('/console/login', {
      method: 'POST',
      form: { _csrf: await client.csrf('/console/login'), token: 'not-a-real-token-at-all', name: 'Eve' },
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('That token is not valid');
    expect(client.cookieHeader).not.toContain('tocsin_console');

    const crlf = await client.request('/console/login', {
      method: 'POST',
      form: { _csrf: await client.csrf('/console/login'), token: TOKENS.viewer, name: 'Eve\r\nSet-Cookie: x=1' },
    });
    expect(crlf.status).toBe(400);
    expect(await crlf.text()).toContain('one line without control characters');

    const empty = await client.request('/console/login', {
      method: 'POST',
      form: { _csrf: await client.csrf('/console/login'), token: TOKENS.viewer, name: '  ' },
    });
    expect(empty.status).toBe(400);
    expect(await empty.text()).toContain('Enter your name');

    for (const next of ['https://evil.example/', '//evil.example/console', '/console/../api/alerts', 'javascript:alert(1)']) {
      const r = await client.request('/console/login', {
        method: 'POST',
        form: { _csrf: await client.csrf('/console/login'), token: TOKENS.viewer, name: 'Vera', next },
      });
      expect(r.status).toBe(303);
      expect(r.headers.get('location')).toBe('/console/alerts?notice=signed-in');
    }

    // A token that names its person records that name, whatever was typed.
    const second = new Client(h.baseUrl);
    await second.request('/console/login', {
      method: 'POST',
      form: { _csrf: await second.csrf('/console/login'), token: TOKENS.second, name: 'Someone Else Entirely' },
    });
    expect(await (await second.request('/console/alerts')).text()).toContain('Second Person · publisher');
  });

  it('sends pages with a nonce-based CSP, no framing and no caching', async () => {
    const client = await signedIn(h.baseUrl, TOKENS.viewer, 'Vera');
    const response = await client.request(`/console/alerts/${alertId}`);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]+'/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const html = await response.text();
    const nonce = /'nonce-([^']+)'/.exec(csp)![1];
    expect(html).toContain(`<script nonce="${nonce.replace(/=/g, '&#x3D;')}">`);
  });

  it('offers the same login to routes outside the console (the queue board)', async () => {
    const board = Fastify();
    board.addHook('onRequest', consoleAuthHook(h.ctx));
    board.get('/admin/queues/api', async (request) => ({ actor: request.actor }));
    board.put('/admin/queues/api', async () => ({ changed: true }));
    const base = await board.listen({ port: 0, host: '127.0.0.1' });
    try {
      const viewer = await signedIn(h.baseUrl, TOKENS.viewer, 'Vera');
      const publisher = await signedIn(h.baseUrl, TOKENS.publisher, 'Pat');
      expect((await fetch(`${base}/admin/queues/api`)).status).toBe(401);
      const browser = await fetch(`${base}/admin/queues/api`, { headers: { accept: 'text/html' } });
      expect(browser.status).toBe(401);
      expect(await browser.text()).toContain('href="/console/login?next=%2Fadmin%2Fqueues"');
      expect(await (await fetch(`${base}/admin/queues/api`, { headers: { cookie: viewer.cookieHeader } })).json()).toEqual({ actor: 'Vera' });
      expect((await fetch(`${base}/admin/queues/api`, { method: 'PUT', headers: { cookie: viewer.cookieHeader } })).status).toBe(403);
      expect((await fetch(`${base}/admin/queues/api`, { method: 'PUT', headers: { cookie: publisher.cookieHeader } })).status).toBe(200);
    } finally {
      await board.close();
    }
  });
});
