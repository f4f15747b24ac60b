import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { testContext, dropPrefix } from '../helpers/context.js';
import { buildServer } from '../../src/http/server.js';
import { metricsPlugin } from '../../src/metrics/routes.js';
import type { Context } from '../../src/context.js';

const ADMIN_TOKEN = 'test-admin-token-0123456789';

describe('Bull Board in a browser', () => {
  let ctx: Context;
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    ctx = await testContext('ops-board', { webhooks: [{ id: 'partner-hook', url: 'http://127.0.0.1:9/hook' }] });
    app = await buildServer(ctx, { plugins: [metricsPlugin({ env: {} })] });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await dropPrefix(ctx);
    await ctx.close();
  });

  it('shows every queue to a browser that gives the admin token, and nothing without it', async () => {
    // Without credentials the browser gets the Basic challenge and no page.
    const anonymous = await browser.newContext();
    await expect((await anonymous.newPage()).goto(`${base}/admin/queues`)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
    expect((await anonymous.request.get(`${base}/admin/queues`)).status()).toBe(401);
    await anonymous.close();

    const staff = await browser.newContext({ httpCredentials: { username: 'staff', password: ADMIN_TOKEN } });
    const page = await staff.newPage();
    await page.goto(`${base}/admin/queues`);
    for (const queue of ['publish', 'email', 'account-partner-hook']) await page.getByText(queue, { exact: true }).first().waitFor();
    await page.screenshot({ path: 'test-results/bull-board.png', fullPage: true });
    await staff.close();
  });
});
