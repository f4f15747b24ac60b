// The server side of bench/public-pages.ts, in its own process so the load generator does not
// share its event loop: Tocsin's HTTP server with one published alert, @fastify/static serving
// a file of the same bytes, and a route answering them from memory. Tells the parent over IPC.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import { loadConfig } from '../src/config/load.js';
import { createContext } from '../src/context.js';
import { buildServer } from '../src/http/server.js';
import { parseAlertMarkdown } from '../src/domain/parse.js';
import { newAlert } from '../src/domain/alert.js';
import { publishAlert } from '../src/publish/publish.js';

const dir = mkdtempSync(join(tmpdir(), 'tocsin-bench-pages-'));
try {
  const config = loadConfig({
    path: '/dev/null',
    env: { TOCSIN_SECRET: 'bench-secret-bench-secret-bench-secret-0', TOCSIN_ADMIN_TOKEN: 'bench-admin-token-0123' },
    overrides: { redis: { url: process.env.BENCH_REDIS_URL, prefix: 'bench-pages' }, log: { level: 'warn' }, http: { publicUrl: 'http://127.0.0.1:0' } },
  });
  const ctx = await createContext(config);
  const source = readFileSync(new URL('../examples/kazakhstan-2022-01.md', import.meta.url), 'utf8');
  const alert = await ctx.alerts.create(newAlert({ ...parseAlertMarkdown(source), canonicalUrl: undefined }));
  await publishAlert(ctx, alert.id, 'bench');

  const app = await buildServer(ctx);
  await app.register(fastifyStatic, { root: dir, prefix: '/static/' });
  let bytes = Buffer.alloc(0);
  // An upper bound: the same bytes from memory, with no lookup at all.
  app.get('/bench/memory', async (_request, reply) => reply.type('text/html; charset=utf-8').send(bytes));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

  // The static file is the alert page's own bytes, so every answer is the same size.
  const page = await fetch(`${base}/alerts/${alert.slug}`);
  if (page.status !== 200) throw new Error(`the alert page answered ${page.status}`);
  bytes = Buffer.from(await page.text());
  writeFileSync(join(dir, 'alert.html'), bytes);

  process.send?.({ type: 'ready', base, slug: alert.slug, bytes: bytes.length });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  await app.close();
  await ctx.close();
} catch (err) {
  process.send?.({ type: 'error', message: (err as Error).message });
} finally {
  rmSync(dir, { recursive: true, force: true });
  process.disconnect?.();
}
