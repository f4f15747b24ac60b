import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { testContext, dropPrefix } from '../helpers/context.js';
import { buildServer } from '../../src/http/server.js';
import { serverPlugins } from '../../src/http/plugins.js';
import type { Context } from '../../src/context.js';

const ADMIN_TOKEN = 'test-admin-token-0123456789';

describe('Bull Board in a browser', () => {
  let ctx: Context;
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    ctx = await testContext('ops-board', { webhooks: [{ id: 'partner-hook', url: 'http://127.0.0.1:9/hook' }] });
    app = await buildServer(ctx, { plugins: serverPlugins(new Map()) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await dropPrefix(ctx);
    await ctx.close();
  });

  it('shows every queue to staff signed in to the console, and nothing without a session', async () => {
    // Without a session a browser gets a page pointing to the console sign-in, and no board.
    const anonymous = await browser.newContext();
    const refused = await (await anonymous.newPage()).goto(`${base}/admin/queues`);
    expect(refused?.status()).toBe(401);
    expect(await refused?.text()).toMatch(/sign in to the console/);
    expect((await anonymous.request.get(`${base}/admin/queues/api/queues`)).status()).toBe(401);
    await anonymous.close();

    const staff = await browser.newContext();
    const page = await staff.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    await page.goto(`${base}/console/login?next=${encodeURIComponent('/admin/queues')}`);
    await page.getByLabel('Your name').fill('Queue Watcher');
    await page.getByLabel('Token', { exact: true }).fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.goto(`${base}/admin/queues`);
    for (const queue of ['publish', 'email', 'account-partner-hook']) await page.getByText(queue, { exact: true }).first().waitFor();
    await page.screenshot({ path: 'test-results/bull-board.png', fullPage: true });
    // The board works under the console's policy: nothing it needs was refused.
    expect(violations).toEqual([]);
    await staff.close();
  });

  it("serves the board with the console's Content-Security-Policy, so no other site can frame it", async () => {
    const headers = (await fetch(`${base}/admin/queues`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).headers;
    const csp = headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("form-action 'self'");
    expect(headers.get('x-frame-options')).toBe('DENY');
    expect(headers.get('x-content-type-options')).toBe('nosniff');
    // Its API answers carry it too.
    expect(
      (await fetch(`${base}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).headers.get('content-security-policy'),
    ).toContain("frame-ancestors 'none'");

    // A page on another origin that frames the board (with a signed-in session) gets nothing.
    const other = Fastify();
    other.get('/', async (_request, reply) => reply.type('text/html').send(`<!doctype html><iframe id="board" src="${base}/admin/queues"></iframe>`));
    const otherUrl = (await other.listen({ port: 0, host: '127.0.0.1' })).replace('127.0.0.1', 'localhost');
    const staff = await browser.newContext();
    try {
      const page = await staff.newPage();
      await page.goto(`${base}/console/login?next=${encodeURIComponent('/admin/queues')}`);
      await page.getByLabel('Your name').fill('Queue Watcher');
      await page.getByLabel('Token', { exact: true }).fill(ADMIN_TOKEN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/admin\/queues/);
      const refused = page.waitForEvent('console', { predicate: (m) => /frame-ancestors/.test(m.text()), timeout: 20_000 });
      await page.goto(otherUrl);
      await refused;
      const frame = page.frames().find((f) => f !== page.mainFrame());
      expect(await frame?.locator('#root').count()).toBe(0);
    } finally {
      await staff.close();
      await other.close();
    }
  });
});
