// Public pages benchmark: requests per second for an alert page, against a static file of the
// same bytes served by the same Fastify (@fastify/static) in the same run, and against the same
// bytes answered from memory. autocannon is the load generator; the server runs in a child
// process so the two do not share an event loop. The three are measured in interleaved rounds
// and the median of each is reported, so that a machine that slows down during the run does not
// favour whichever ran first.
//
//   npm run bench:pages [-- --rounds 3 --duration 5 --connections 20]
//
// Everything runs on this machine: a private redis-server, the server on 127.0.0.1.

import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startPrivateRedis } from './lib/private-redis.js';
import { forkBench, nextMessage } from './lib/children.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2' },
  },
});
const rounds = Number(values.rounds);
const duration = Number(values.duration);
const connections = Number(values.connections);

const redis = await startPrivateRedis();
const server = forkBench('public-pages-server.ts', { BENCH_REDIS_URL: redis.url });
try {
  const { base, slug, bytes } = await nextMessage<{ type: 'ready'; base: string; slug: string; bytes: number }>(server, 'ready', 60_000);
  const targets = [
    { name: 'alert page /alerts/:slug', path: `/alerts/${slug}` },
    { name: 'static file (@fastify/static)', path: '/static/alert.html' },
    { name: 'same bytes from memory', path: '/bench/memory' },
  ];
  const run = async (path: string, seconds: number) => {
    const result = await autocannon({ url: `${base}${path}`, connections, duration: seconds });
    if (result.non2xx || result.errors) throw new Error(`${path}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
    return result;
  };
  for (const t of targets) await run(t.path, Number(values.warmup));
  const samples = new Map(targets.map((t) => [t.path, [] as autocannon.Result[]]));
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round.
    for (let i = 0; i < targets.length; i++) {
      const t = targets[(i + round) % targets.length];
      samples.get(t.path)!.push(await run(t.path, duration));
    }
  }
  const median = (path: string) => {
    const sorted = [...samples.get(path)!].sort((a, b) => a.requests.average - b.requests.average);
    return sorted[Math.floor(sorted.length / 2)];
  };
  console.log(`public pages benchmark: ${connections} connections, ${rounds} rounds of ${duration} s each, Node ${process.version}, ${bytes} bytes per answer`);
  for (const t of targets) {
    const r = median(t.path);
    const all = samples
      .get(t.path)!
      .map((s) => Math.round(s.requests.average))
      .join(', ');
    console.log(
      `${t.name.padEnd(32)} ${Math.round(r.requests.average).toString().padStart(7)} req/s median (${all})   p50 ${r.latency.p50} ms   p99 ${r.latency.p99} ms`,
    );
  }
  const [page, file, memory] = targets.map((t) => median(t.path).requests.average);
  console.log(`ratio alert page / static file: ${(page / file).toFixed(2)}`);
  console.log(`ratio alert page / bytes from memory: ${(page / memory).toFixed(2)}`);
} finally {
  server.send({ type: 'stop' });
  await new Promise((resolve) => (server.exitCode === null ? server.once('exit', resolve) : resolve(undefined)));
  await redis.stop();
}
