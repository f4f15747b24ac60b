import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
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
    await page.goto(`${base}/console/login?next=${encodeURIComponent('/admin/queues')}`);
    await page.getByLabel('Your name').fill('Queue Watcher');
    await page.getByLabel('Token', { exact: true }).fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.goto(`${base}/admin/queues`);
    for (const queue of ['publish', 'email', 'account-partner-hook']) await page.getByText(queue, { exact: true }).first().waitFor();
    await page.screenshot({ path: 'test-results/bull-board.png', fullPage: true });
    await staff.close();
  });
});
