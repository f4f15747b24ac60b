// Public pages benchmark: requests per second for an alert page, against a static file of the
// same bytes served by the same Fastify (@fastify/static) in the same run, with autocannon as the
// load generator. Prints both figures and their ratio.
//
//   npm run bench:pages [-- --duration 10 --connections 20]
//
// Everything runs on this machine: a private redis-server, the server on 127.0.0.1, autocannon in
// this process. Each measurement is bounded by --duration seconds.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import fastifyStatic from '@fastify/static';
import { startPrivateRedis } from './lib/private-redis.js';
import { loadConfig } from '../src/config/load.js';
import { createContext } from '../src/context.js';
import { buildServer } from '../src/http/server.js';
import { parseAlertMarkdown } from '../src/domain/parse.js';
import { newAlert } from '../src/domain/alert.js';
import { publishAlert } from '../src/publish/publish.js';

const { values } = parseArgs({
  options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '20' }, warmup: { type: 'string', default: '2' } },
});
const duration = Number(values.duration);
const connections = Number(values.connections);

const redis = await startPrivateRedis();
const dir = mkdtempSync(join(tmpdir(), 'tocsin-bench-pages-'));
try {
  const config = loadConfig({
    path: '/dev/null',
    env: { TOCSIN_SECRET: 'bench-secret-bench-secret-bench-secret-0', TOCSIN_ADMIN_TOKEN: 'bench-admin-token-0123' },
    overrides: { redis: { url: redis.url, prefix: 'bench-pages' }, log: { level: 'warn' }, http: { publicUrl: 'http://127.0.0.1:0' } },
  });
  const ctx = await createContext(config);
  const source = readFileSync(new URL('../examples/kazakhstan-2022-01.md', import.meta.url), 'utf8');
  const alert = await ctx.alerts.create(newAlert({ ...parseAlertMarkdown(source), canonicalUrl: undefined }));
  await publishAlert(ctx, alert.id, 'bench');

  const app = await buildServer(ctx);
  await app.register(fastifyStatic, { root: dir, prefix: '/static/' });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

  // The static file is the alert page's own bytes, so both answers are the same size.
  const page = await fetch(`${base}/alerts/${alert.slug}`);
  if (page.status !== 200) throw new Error(`the alert page answered ${page.status}`);
  writeFileSync(join(dir, 'alert.html'), await page.text());

  const run = async (path: string, seconds: number) => {
    const result = await autocannon({ url: `${base}${path}`, connections, duration: seconds });
    if (result.non2xx || result.errors) throw new Error(`${path}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
    return result;
  };
  await run(`/alerts/${alert.slug}`, Number(values.warmup));
  await run('/static/alert.html', Number(values.warmup));
  const dynamic = await run(`/alerts/${alert.slug}`, duration);
  const fixed = await run('/static/alert.html', duration);

  const line = (name: string, r: autocannon.Result) =>
    `${name.padEnd(32)} ${Math.round(r.requests.average).toString().padStart(7)} req/s   p50 ${r.latency.p50} ms   p99 ${r.latency.p99} ms   ${(r.throughput.average / 1e6).toFixed(1)} MB/s`;
  console.log(
    `public pages benchmark: ${connections} connections, ${duration} s each, Node ${process.version}, ${Buffer.byteLength(readFileSync(join(dir, 'alert.html')))} bytes per answer`,
  );
  console.log(line('alert page /alerts/:slug', dynamic));
  console.log(line('static file (@fastify/static)', fixed));
  console.log(`ratio alert page / static file: ${(dynamic.requests.average / fixed.requests.average).toFixed(2)}`);

  await app.close();
  await ctx.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
  await redis.stop();
}
