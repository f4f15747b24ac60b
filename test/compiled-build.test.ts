import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testContext, dropPrefix, waitFor } from './helpers/context.js';
import { storeAlert } from './helpers/fixtures.js';
import { cliEnv, startCli, exited } from './helpers/cli.js';
import { signedIn, type Client } from './console/harness.js';
import { routeTable } from './console/route-table.js';
import { buildServer } from '../src/http/server.js';
import { serverPlugins } from '../src/http/plugins.js';
import { createAccountChannels } from '../src/channels/accounts.js';
import { tokenFor } from '../src/tokens.js';
import type { Context } from '../src/context.js';

// `npm start` runs the compiled JavaScript in dist/ (built by the suite's global setup), which
// must find its templates from dist/ as well. Every console page, signed in, and every public
// page is requested from a real `tocsin start`; none may answer 5xx.

const PUBLISHER = 'compiled-publisher-token-0123456789';
const METRICS = 'compiled-metrics-token-0123456789';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Status and content type of a GET; a stream (the live progress) is cut once its headers are in. */
async function get(client: Client, path: string): Promise<{ status: number; type: string; body: string }> {
  const response = await client.request(path, { signal: AbortSignal.timeout(30_000) });
  const type = response.headers.get('content-type') ?? '';
  if (type.startsWith('text/event-stream')) {
    await response.body?.cancel();
    return { status: response.status, type, body: '' };
  }
  return { status: response.status, type, body: await response.text() };
}

describe('the compiled build (dist/) serves every page', () => {
  let ctx: Context;
  let server: ReturnType<typeof startCli>;
  let base: string;
  let alertId: string;
  let subscriberId: number;
  let consolePages: string[];

  beforeAll(async () => {
    const port = await freePort();
    ctx = await testContext('compiled', {
      http: { port, publicUrl: `http://127.0.0.1:${port}` },
      console: { tokens: [{ env: 'TOCSIN_PUBLISHER_TOKEN', role: 'publisher' }] },
      metrics: { tokenEnv: 'TOCSIN_METRICS_TOKEN' },
    });
    alertId = (await storeAlert(ctx)).id;
    subscriberId = (
      await ctx.subscribers.create({
        email: 'reader@example.org',
        countries: ['KZ'],
        minLevel: 'all',
        status: 'confirmed',
        language: 'en',
        consentSource: 'import:test',
        confirmedAt: 1,
      })
    ).id;

    // The page list comes from the server's own route table, so a page added later is covered too.
    const inProcess = await buildServer(ctx, { plugins: serverPlugins(await createAccountChannels(ctx)) });
    await inProcess.ready();
    consolePages = routeTable(inProcess)
      .filter((r) => r.method === 'GET' && r.path.startsWith('/console'))
      .map((r) => r.path.replace(':id', alertId));
    await inProcess.close();

    server = startCli(['start'], cliEnv(ctx.config, { TOCSIN_PUBLISHER_TOKEN: PUBLISHER, TOCSIN_METRICS_TOKEN: METRICS, LOG_LEVEL: 'warn' }));
    base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${base}/healthz`)).ok, `tocsin start (dist) to answer /healthz\n${server.output()}`, 60_000, 200);
  });
  afterAll(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await exited(server);
    }
    await dropPrefix(ctx);
    await ctx.close();
  });

  it('every console page answers a signed-in publisher without a server error', async () => {
    expect(consolePages.length).toBeGreaterThanOrEqual(10);
    const client = await signedIn(base, PUBLISHER);
    const failures: string[] = [];
    for (const path of consolePages) {
      const { status, body } = await get(client, path);
      if (status >= 500) failures.push(`${path}: ${status} ${body.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
    // The pages a person reads render their templates (an error page would also be HTML).
    expect((await get(client, '/console/alerts')).body).toContain('Genocide Emergency Alert: Kazakhstan');
    expect((await get(client, `/console/alerts/${alertId}`)).body).toContain('Genocide Emergency Alert: Kazakhstan');
    expect((await get(client, '/console/compose')).status).toBe(200);
    expect((await get(client, '/admin/queues')).status).toBe(200);
  });

  it('the public pages, the health check and the metrics answer', async () => {
    const anyone = new (await import('./console/harness.js')).Client(base);
    const now = Date.now();
    const pages: Array<[string, number, RegExp?]> = [
      ['/subscribe', 200, /<form/],
      ['/subscribe/embed', 200, /&lt;form/],
      ['/subscribe/check-email', 200],
      [`/subscribe/confirm/${tokenFor(ctx.secret, 'confirm', subscriberId, now)}`, 200, /already confirmed/i],
      [`/preferences/${tokenFor(ctx.secret, 'preferences', subscriberId, now)}`, 200, /<form/],
      [`/unsubscribe/${tokenFor(ctx.secret, 'unsubscribe', subscriberId, now)}`, 200, /<form/],
      ['/unsubscribe/not-a-token', 400],
      ['/healthz', 200],
    ];
    for (const [path, status, content] of pages) {
      const page = await get(anyone, path);
      expect(page.status, `${path}: ${page.body.slice(0, 200)}`).toBe(status);
      if (content) expect(page.body, path).toMatch(content);
    }
    const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS}` } });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('tocsin_queue_jobs');
  });
});
