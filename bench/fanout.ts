import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { createContext } from '../src/context.js';
import { createLogger } from '../src/log.js';
import { newAlert } from '../src/domain/alert.js';
import { parseAlertMarkdown } from '../src/domain/parse.js';
import { publishAlert } from '../src/publish/publish.js';
import { EMAIL_CHANNEL } from '../src/publish/rendered.js';
import type { RenderedEmail } from '../src/render/email.js';
import { startPrivateRedis, type PrivateRedis } from './lib/private-redis.js';
import { cpuSecondsOf, forkBench, memoryOf, nextMessage, request, sampleRss, stopChild } from './lib/children.js';
import { benchConfig, benchOverrides, type Tuning } from './lib/config.js';
import { seedSubscribers } from './lib/seed.js';

// Fan-out benchmark (issue 2, "Benchmark"): N subscribers through the whole pipeline (publishAlert,
// publish worker fan-out, ledger, email batch jobs, personalised MIME, nodemailer SMTP pool) to an
// SMTP sink in its own process, then the same N messages with two baselines over a pool of the
// same size to the same sink. See bench/README.md for how to read the output.

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function parse() {
  try {
    return parseArgs({
      options: {
        subscribers: { type: 'string', default: '100000' },
        'batch-size': { type: 'string' },
        concurrency: { type: 'string' },
        'send-concurrency': { type: 'string' },
        'max-connections': { type: 'string' },
        'sweep-at': { type: 'string', default: '10000' },
        // Messages per baseline; default N, as the issue asks. A smaller sample gives the same rate sooner.
        'baseline-messages': { type: 'string' },
        'no-rss-sweep': { type: 'boolean', default: false },
        'no-baselines': { type: 'boolean', default: false },
        // Writes V8 CPU profiles of the worker and baseline processes here (node --cpu-prof).
        profile: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (err) {
    fail(`${(err as Error).message} (see --help)`);
  }
}
const args = parse();

if (args.help) {
  process.stdout.write(`npm run bench -- [--subscribers N] [--batch-size B] [--concurrency C] [--send-concurrency S]
               [--max-connections M] [--sweep-at 10000] [--no-rss-sweep] [--no-baselines]
               [--baseline-messages M] [--profile DIR]
Unset tuning flags take the configuration's defaults (src/config/schema.ts).\n`);
  process.exit(0);
}

const int = (name: string, raw: string | undefined, min = 1): number | undefined => {
  if (raw === undefined) return undefined;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) fail(`--${name}: must be a whole number of at least ${min}, got "${raw}"`);
  return n;
};

const N = int('subscribers', args.subscribers) as number;
const SWEEP_AT = int('sweep-at', args['sweep-at']) as number;
const BASELINE_N = int('baseline-messages', args['baseline-messages']) ?? N;
const defaults = benchConfig({}).email;
const tuning: Tuning = {
  batchSize: int('batch-size', args['batch-size']) ?? defaults.batchSize,
  concurrency: int('concurrency', args.concurrency) ?? defaults.concurrency,
  sendConcurrency: int('send-concurrency', args['send-concurrency']) ?? defaults.sendConcurrency,
  maxConnections: int('max-connections', args['max-connections']) ?? defaults.pool.maxConnections,
};
// The default key prefix, so key names, and the memory they take, are as in a real deployment.
const PREFIX = 'tocsin';
// Out-of-range values are refused by the configuration schema, with the field named.
try {
  benchConfig(benchOverrides('redis://127.0.0.1:1', 'smtp://127.0.0.1:1', PREFIX, tuning));
} catch (err) {
  fail((err as Error).message);
}
// The pipeline has at most concurrency × sendConcurrency sendMail calls in flight; the loop
// baselines get exactly as many, so neither side is starved of work for the pool.
const inFlight = tuning.concurrency * tuning.sendConcurrency;
const childArgv = args.profile ? ['--cpu-prof', `--cpu-prof-dir=${args.profile}`] : [];

const print = (line = '') => process.stdout.write(`${line}\n`);
const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
}

async function memoryUsage(redis: Redis, key: string): Promise<number> {
  return Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
}

/** Total MEMORY USAGE of the keys matching a pattern (the address index, one key or many). */
async function memoryUsageOf(redis: Redis, pattern: string): Promise<number> {
  let total = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) total += await memoryUsage(redis, key);
  } while (cursor !== '0');
  return total;
}

interface HeapPeaks {
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Peak V8 heap used and peak external memory in each tenth of the run. */
  heapByTenth: number[];
  externalByTenth: number[];
}

/** Asks the worker for process.memoryUsage() now and then; keeps the peak of each part. */
function sampleHeap(worker: ChildProcess, everyMs: number) {
  const samples: Array<{ ms: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number }> = [];
  const t0 = performance.now();
  const onMessage = (m: { type: string; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number }) => {
    if (m.type === 'memory')
      samples.push({ ms: performance.now() - t0, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers });
  };
  worker.on('message', onMessage);
  const timer = setInterval(() => worker.connected && worker.send({ type: 'memory' }), everyMs);
  return {
    async stop(): Promise<HeapPeaks> {
      clearInterval(timer);
      await sleep(Math.min(everyMs, 200));
      worker.off('message', onMessage);
      const span = performance.now() - t0;
      const peak = (key: 'heapUsed' | 'heapTotal' | 'external' | 'arrayBuffers') => Math.max(0, ...samples.map((x) => x[key]));
      const byTenth = (key: 'heapUsed' | 'external') => {
        const out = Array.from({ length: 10 }, () => 0);
        for (const x of samples) out[Math.min(9, Math.floor((x.ms / span) * 10))] = Math.max(out[Math.min(9, Math.floor((x.ms / span) * 10))], x[key]);
        return out;
      };
      return {
        heapUsed: peak('heapUsed'),
        heapTotal: peak('heapTotal'),
        external: peak('external'),
        arrayBuffers: peak('arrayBuffers'),
        heapByTenth: byTenth('heapUsed'),
        externalByTenth: byTenth('external'),
      };
    },
  };
}

interface SinkCounts {
  messages: number;
  recipients: number;
  unique: number;
  duplicates: number;
  bytes: number;
  connections: number;
}

interface PipelineResult {
  n: number;
  seedSeconds: number;
  seconds: number;
  perSecond: number;
  redisBytesPerSubscriber: number;
  recordBytes: number;
  indexBytesPerSubscriber: number;
  ledgerBytesPerDelivery: number;
  /** used_memory growth from publish to published: ledger, counters, events, queue jobs kept. */
  runBytesPerDelivery: number;
  /** From the publish job's start to the last batch job queued. */
  fanOutSeconds: number;
  batches: number;
  workerIdleRss: number;
  workerPeakRss: number;
  workerHwm: number;
  workerHeap: HeapPeaks;
  workerRssByTenth: number[];
  cpu: { worker: number; redis: number; sink: number };
  sink: SinkCounts;
  sent: number;
  rendered: RenderedEmail;
}

async function runPipeline(redis: PrivateRedis, admin: Redis, sink: ChildProcess, smtpUrl: string, n: number): Promise<PipelineResult> {
  // A clean private Redis for every run, so memory deltas and ledgers belong to this run alone.
  await admin.flushall();
  const overrides = benchOverrides(redis.url, smtpUrl, PREFIX, tuning);
  const config = benchConfig(overrides);
  const ctx = await createContext(config, { log: createLogger('warn') });
  let worker: ChildProcess | undefined;
  try {
    await sleep(200);
    const before = await usedMemory(admin);
    const seedStart = performance.now();
    await seedSubscribers(ctx, n);
    const seedSeconds = (performance.now() - seedStart) / 1000;
    await sleep(200);
    const afterSeed = await usedMemory(admin);
    const sample = [1, Math.ceil(n / 2), n];
    const recordBytes = (await Promise.all(sample.map((id) => memoryUsage(admin, ctx.keys.subscriber(id))))).reduce((a, b) => a + b, 0) / sample.length;
    const indexBytes = await memoryUsageOf(admin, `${ctx.keys.subscriber(0).slice(0, -1)}by-email*`);

    const source = readFileSync(new URL('../examples/kazakhstan-2022-01.md', import.meta.url), 'utf8');
    const alert = await ctx.alerts.create(newAlert(parseAlertMarkdown(source)));

    worker = forkBench('worker-process.ts', { BENCH_CONFIG: JSON.stringify(overrides) }, childArgv);
    await nextMessage(worker, 'ready', 60_000);
    const pid = worker.pid as number;
    await sleep(300);
    const workerIdleRss = memoryOf(pid).rss;
    await request(sink, { type: 'reset' }, 'reset-done');
    const cpu0 = { worker: cpuSecondsOf(pid), redis: cpuSecondsOf(redis.pid), sink: cpuSecondsOf(sink.pid as number) };
    const sampler = sampleRss(pid, 50);
    const heap = sampleHeap(worker, 500);

    const t0 = performance.now();
    await publishAlert(ctx, alert.id, 'bench');
    const deadline = Date.now() + Math.max(120_000, n * 20);
    for (;;) {
      const status = await ctx.redis.hget(ctx.keys.alert(alert.id), 'status');
      if (status === 'published') break;
      if (Date.now() > deadline) throw new Error(`the alert was not published within ${Math.round((deadline - t0) / 1000)} s (status ${status})`);
      const counts = await ctx.ledger.counts(alert.id);
      if (counts.totals.failed > 0)
        throw new Error(`${counts.totals.failed} deliveries failed: ${JSON.stringify((await ctx.ledger.problems(alert.id, 1))[0])}`);
      await sleep(50);
    }
    const seconds = (performance.now() - t0) / 1000;
    const { peak: workerPeakRss, byTenth: workerRssByTenth } = sampler.stop();
    const workerHeap = await heap.stop();
    const workerHwm = memoryOf(pid).hwm;
    const cpu = { worker: cpuSecondsOf(pid) - cpu0.worker, redis: cpuSecondsOf(redis.pid) - cpu0.redis, sink: cpuSecondsOf(sink.pid as number) - cpu0.sink };
    const sinkCounts = await request<SinkCounts & { type: string }>(sink, { type: 'counts' }, 'counts');
    const counts = await ctx.ledger.counts(alert.id);
    const ledgerBytes = await memoryUsage(admin, ctx.keys.ledger(alert.id, EMAIL_CHANNEL));
    const afterRun = await usedMemory(admin);
    const pub = await ctx.publications.get(alert.id);
    const fanOutSeconds = pub.startedAt && pub.fannedOutAt ? (Date.parse(pub.fannedOutAt) - Date.parse(pub.startedAt)) / 1000 : NaN;
    const rendered = JSON.parse((await ctx.redis.get(ctx.keys.rendered(alert.id, EMAIL_CHANNEL))) as string) as RenderedEmail;
    await request(worker, { type: 'stop' }, 'stopped', 30_000);
    return {
      n,
      seedSeconds,
      seconds,
      perSecond: n / seconds,
      redisBytesPerSubscriber: (afterSeed - before) / n,
      recordBytes,
      indexBytesPerSubscriber: indexBytes / n,
      ledgerBytesPerDelivery: ledgerBytes / n,
      runBytesPerDelivery: (afterRun - afterSeed) / n,
      fanOutSeconds,
      batches: pub.batches,
      workerIdleRss,
      workerPeakRss,
      workerRssByTenth,
      workerHeap,
      workerHwm,
      cpu,
      sink: sinkCounts,
      sent: counts.channels[EMAIL_CHANNEL]?.sent ?? 0,
      rendered,
    };
  } finally {
    if (worker) await stopChild(worker, 15_000);
    await ctx.close();
  }
}

interface BaselineResult {
  seconds: number;
  perSecond: number;
  cpuSeconds: number;
  errors: number;
  sink: SinkCounts;
  messageBytes?: number;
  transportOptions: string;
}

async function runBaseline(sink: ChildProcess, redisUrl: string, smtpUrl: string, mode: 'loop' | 'raw', email: RenderedEmail): Promise<BaselineResult> {
  await request(sink, { type: 'reset' }, 'reset-done');
  const child = forkBench('baseline-process.ts', {}, childArgv);
  try {
    await nextMessage(child, 'ready', 60_000);
    const done = await request<{
      type: string;
      seconds: number;
      cpuSeconds: number;
      errors: number;
      firstError: string;
      messageBytes?: number;
      transportOptions: string;
    }>(
      child,
      {
        type: 'start',
        mode,
        n: BASELINE_N,
        overrides: benchOverrides(redisUrl, smtpUrl, PREFIX, tuning),
        concurrency: inFlight,
        email,
        recipientFor: `${mode}{i}@example.org`,
      },
      'done',
      // The loop baseline is the slow one (~5 ms of CPU a message): allow it 50 ms a message.
      Math.max(600_000, BASELINE_N * 50),
    );
    if (done.errors > 0) throw new Error(`${mode} baseline: ${done.errors} sends failed, first: ${done.firstError}`);
    const counts = await request<SinkCounts & { type: string }>(sink, { type: 'counts' }, 'counts');
    return {
      seconds: done.seconds,
      perSecond: BASELINE_N / done.seconds,
      cpuSeconds: done.cpuSeconds,
      errors: done.errors,
      sink: counts,
      messageBytes: done.messageBytes,
      transportOptions: done.transportOptions,
    };
  } finally {
    await stopChild(child, 15_000);
  }
}

async function main() {
  const started = performance.now();
  const redis = await startPrivateRedis();
  const admin = new Redis(redis.url);
  const sink = forkBench('smtp-sink.ts');
  const cleanup = async () => {
    await stopChild(sink);
    admin.disconnect();
    await redis.stop();
  };
  // Interrupted or terminated: the private redis-server must not outlive the benchmark.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => void cleanup().then(() => process.exit(130)));
  try {
    const { port } = await nextMessage<{ type: string; port: number }>(sink, 'ready', 30_000);
    const smtpUrl = `smtp://127.0.0.1:${port}`;
    print(`tocsin fan-out benchmark: ${N.toLocaleString('en')} subscribers`);
    print(
      `tuning: email.batchSize=${tuning.batchSize} email.concurrency=${tuning.concurrency} email.sendConcurrency=${tuning.sendConcurrency} email.pool.maxConnections=${tuning.maxConnections} (in flight: ${inFlight})`,
    );
    print(`private redis-server ${redis.url} (no persistence); SMTP sink pid ${sink.pid} on port ${port}`);
    print();

    const sweep = !args['no-rss-sweep'] && N > SWEEP_AT;
    const small = sweep ? await runPipeline(redis, admin, sink, smtpUrl, SWEEP_AT) : undefined;
    if (small) reportPipeline(small);
    const big = await runPipeline(redis, admin, sink, smtpUrl, N);
    reportPipeline(big);

    let loop: BaselineResult | undefined;
    let raw: BaselineResult | undefined;
    if (!args['no-baselines']) {
      loop = await runBaseline(sink, redis.url, smtpUrl, 'loop', big.rendered);
      reportBaseline('(a) nodemailer sendMail loop', loop, `full message object per recipient, ${inFlight} calls in flight`);
      raw = await runBaseline(sink, redis.url, smtpUrl, 'raw', big.rendered);
      reportBaseline('(b) pre-rendered MIME blast', raw, `one ${raw.messageBytes} byte buffer, ${inFlight} calls in flight`);
    }

    const ratioLoop = loop ? big.perSecond / loop.perSecond : null;
    const ratioRaw = raw ? big.perSecond / raw.perSecond : null;
    // "Flat": the larger run's figure is within 10% (or 10 MB, whichever is more) of the smaller's.
    const flat = (a: number, b: number) => b - a <= Math.max(10 * 1048576, a * 0.1);
    const targets = {
      vs_loop_2x: ratioLoop === null ? null : ratioLoop >= 2,
      vs_prerendered_0_8x: ratioRaw === null ? null : ratioRaw >= 0.8,
      rss_flat: small ? flat(small.workerPeakRss, big.workerPeakRss) : null,
      // The same on the second half of each run, after the one-off start (first render, fan-out).
      rss_flat_second_half: small ? flat(secondHalf(small), secondHalf(big)) : null,
      redis_250_bytes: big.redisBytesPerSubscriber <= 250,
    };

    print();
    print('summary');
    print(`  pipeline        ${Math.round(big.perSecond)} msg/s`);
    if (loop)
      print(
        `  nodemailer loop ${Math.round(loop.perSecond)} msg/s   pipeline/loop        = ${round(ratioLoop!, 2)}  (target >= 2)   ${targets.vs_loop_2x ? 'met' : 'NOT met'}`,
      );
    if (raw)
      print(
        `  pre-rendered    ${Math.round(raw.perSecond)} msg/s   pipeline/pre-rendered = ${round(ratioRaw!, 2)}  (target >= 0.8) ${targets.vs_prerendered_0_8x ? 'met' : 'NOT met'}`,
      );
    if (small) {
      print(
        `  worker peak RSS ${mb(small.workerPeakRss)} MB at ${small.n.toLocaleString('en')}, ${mb(big.workerPeakRss)} MB at ${big.n.toLocaleString('en')}   (target: flat) ${targets.rss_flat ? 'met' : 'NOT met'}`,
      );
      print(
        `  worker peak RSS in the second half of the run: ${mb(secondHalf(small))} MB at ${small.n.toLocaleString('en')}, ${mb(secondHalf(big))} MB at ${big.n.toLocaleString('en')}   ${targets.rss_flat_second_half ? 'flat' : 'NOT flat'}`,
      );
    } else print(`  worker peak RSS ${mb(big.workerPeakRss)} MB at ${big.n.toLocaleString('en')}`);
    print(
      `  redis per subscriber ${Math.round(big.redisBytesPerSubscriber)} bytes (target <= 250) ${targets.redis_250_bytes ? 'met' : 'NOT met'}; ledger ${Math.round(big.ledgerBytesPerDelivery)} bytes per delivery`,
    );
    print(`  total wall time ${round((performance.now() - started) / 1000)} s`);

    print(
      JSON.stringify({
        subscribers: N,
        baseline_messages: args['no-baselines'] ? null : BASELINE_N,
        pipeline_per_s: Math.round(big.perSecond),
        nodemailer_loop_per_s: loop ? Math.round(loop.perSecond) : null,
        prerendered_per_s: raw ? Math.round(raw.perSecond) : null,
        ratio_vs_loop: ratioLoop === null ? null : round(ratioLoop, 2),
        ratio_vs_prerendered: ratioRaw === null ? null : round(ratioRaw, 2),
        worker_peak_rss_mb: mb(big.workerPeakRss),
        worker_peak_rss_mb_small: small ? mb(small.workerPeakRss) : null,
        worker_second_half_rss_mb: mb(secondHalf(big)),
        worker_second_half_rss_mb_small: small ? mb(secondHalf(small)) : null,
        small_subscribers: small ? small.n : null,
        worker_idle_rss_mb: mb(big.workerIdleRss),
        redis_bytes_per_subscriber: Math.round(big.redisBytesPerSubscriber),
        redis_record_bytes: Math.round(big.recordBytes),
        redis_index_bytes_per_subscriber: Math.round(big.indexBytesPerSubscriber),
        ledger_bytes_per_delivery: Math.round(big.ledgerBytesPerDelivery),
        redis_run_bytes_per_delivery: Math.round(big.runBytesPerDelivery),
        pipeline_seconds: round(big.seconds, 2),
        nodemailer_loop_seconds: loop ? round(loop.seconds, 2) : null,
        prerendered_seconds: raw ? round(raw.seconds, 2) : null,
        cpu_seconds: {
          worker: round(big.cpu.worker),
          redis: round(big.cpu.redis),
          sink: round(big.cpu.sink),
          loop: loop ? round(loop.cpuSeconds) : null,
          prerendered: raw ? round(raw.cpuSeconds) : null,
        },
        tuning: { ...tuning, inFlight },
        targets,
      }),
    );
  } finally {
    await cleanup();
  }
}

function reportPipeline(r: PipelineResult) {
  print(`pipeline, ${r.n.toLocaleString('en')} subscribers`);
  print(`  seeded in ${round(r.seedSeconds)} s with SubscriberStore.create`);
  print(
    `  redis: ${Math.round(r.redisBytesPerSubscriber)} bytes per subscriber (used_memory delta / N; one record ~${Math.round(r.recordBytes)} bytes + by-email index ~${Math.round(r.indexBytesPerSubscriber)} bytes)`,
  );
  print(
    `  delivered ${r.n.toLocaleString('en')} in ${round(r.seconds, 2)} s = ${Math.round(r.perSecond)} msg/s (publishAlert -> alert published); fan-out queued ${r.batches} batch jobs in ${round(r.fanOutSeconds)} s`,
  );
  print(
    `  sink: ${r.sink.messages} messages, ${r.sink.unique} distinct recipients, ${r.sink.duplicates} duplicates, ${mb(r.sink.bytes)} MB over ${r.sink.connections} connections; ledger: ${r.sent} sent`,
  );
  print(
    `  ledger: ${Math.round(r.ledgerBytesPerDelivery)} bytes per delivery (the ledger hash); Redis grew ${Math.round(r.runBytesPerDelivery)} bytes per delivery in all (ledger, events, finished jobs)`,
  );
  print(`  worker RSS: ${mb(r.workerIdleRss)} MB idle, ${mb(r.workerPeakRss)} MB peak while sending (VmHWM ${mb(r.workerHwm)} MB)`);
  print(`  worker RSS peak in each tenth of the run (MB): ${r.workerRssByTenth.map((b) => Math.round(mb(b))).join(' ')}`);
  print(
    `  worker V8 heap used / external memory peak in each tenth (MB): ${r.workerHeap.heapByTenth.map((b) => Math.round(mb(b))).join(' ')} / ${r.workerHeap.externalByTenth.map((b) => Math.round(mb(b))).join(' ')}`,
  );
  print(
    `  worker heap peaks: V8 heap used ${mb(r.workerHeap.heapUsed)} MB of ${mb(r.workerHeap.heapTotal)} MB, external ${mb(r.workerHeap.external)} MB (array buffers ${mb(r.workerHeap.arrayBuffers)} MB)`,
  );
  print(
    `  CPU seconds: worker ${round(r.cpu.worker)}, redis ${round(r.cpu.redis)}, sink ${round(r.cpu.sink)} (over ${round(r.seconds)} s wall, 2 cores shared)`,
  );
  if (r.sink.unique !== r.n || r.sink.duplicates !== 0 || r.sent !== r.n)
    print(`  WARNING: expected ${r.n} distinct recipients, no duplicates and ${r.n} sent`);
  print();
}

const secondHalf = (r: PipelineResult) => Math.max(...r.workerRssByTenth.slice(5));

function reportBaseline(name: string, r: BaselineResult, how: string) {
  print(
    `${name}: ${BASELINE_N.toLocaleString('en')} in ${round(r.seconds, 2)} s = ${Math.round(r.perSecond)} msg/s (${how}); CPU ${round(r.cpuSeconds)} s; sink got ${r.sink.unique} distinct over ${r.sink.connections} connections`,
  );
  print(`  pool options: ${r.transportOptions}`);
  if (r.sink.unique !== BASELINE_N || r.sink.duplicates !== 0)
    print(`  WARNING: the sink got ${r.sink.unique} distinct recipients and ${r.sink.duplicates} duplicates, expected ${BASELINE_N} and 0`);
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
