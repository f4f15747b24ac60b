import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { generateKeyPairSync } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { createContext, type Context } from '../src/context.js';
import { createLogger } from '../src/log.js';
import { newAlert } from '../src/domain/alert.js';
import { parseAlertMarkdown } from '../src/domain/parse.js';
import { publishAlert } from '../src/publish/publish.js';
import { EMAIL_CHANNEL } from '../src/publish/rendered.js';
import type { RenderedEmail } from '../src/render/email.js';
import { startPrivateRedis, type PrivateRedis } from './lib/private-redis.js';
import { cpuSecondsOf, forkBench, memoryOf, nextMessage, request, sampleRss, stopChild } from './lib/children.js';
import { BENCH_DKIM_ENV, benchConfig, benchOverrides, type Tuning } from './lib/config.js';
import { seedSubscribers } from './lib/seed.js';

// Fan-out benchmark (issues 2 and 10): N subscribers through the whole pipeline (publishAlert,
// publish worker fan-out, ledger, email batch jobs, personalised MIME, DKIM, Tocsin's SMTP sender)
// to an SMTP sink in its own process, and two baselines to the same sink over as many
// connections: (b) a raw-socket blast of the same pre-rendered message with PIPELINING, the upper
// bound, and (a) a nodemailer sendMail loop. Rounds interleave them; the summary gives medians.
// See bench/README.md for how to read the output.

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
        rounds: { type: 'string', default: '3' },
        // Messages for the slow nodemailer loop baseline; its rate does not depend on N.
        'loop-messages': { type: 'string' },
        'no-dkim': { type: 'boolean', default: false },
        // Worker processes for the pipeline; with more than 1, each round also runs it with 1.
        workers: { type: 'string', default: '1' },
        // Starts this many replicas of the private Redis, and the ledger WAITs for them (redis.waitReplicas).
        'wait-replicas': { type: 'string', default: '0' },
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
               [--baseline-messages M] [--loop-messages L] [--rounds 3] [--no-dkim] [--profile DIR]
               [--workers N] [--wait-replicas 0]
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
const LOOP_N = int('loop-messages', args['loop-messages']) ?? Math.min(BASELINE_N, 5000);
const ROUNDS = int('rounds', args.rounds) as number;
const DKIM = !args['no-dkim'];
const WORKERS = int('workers', args.workers) as number;
const defaults = benchConfig({}).email;
const tuning: Tuning = {
  batchSize: int('batch-size', args['batch-size']) ?? defaults.batchSize,
  concurrency: int('concurrency', args.concurrency) ?? defaults.concurrency,
  sendConcurrency: int('send-concurrency', args['send-concurrency']) ?? defaults.sendConcurrency,
  maxConnections: int('max-connections', args['max-connections']) ?? defaults.pool.maxConnections,
  waitReplicas: int('wait-replicas', args['wait-replicas'], 0) ?? 0,
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
  /** Wall-clock time the sink accepted the phase's first message. */
  firstAt: number;
}

/** Subscribers seeded once for N; every pipeline run publishes a new alert to them. */
interface Seeded {
  ctx: Context;
  n: number;
  seedSeconds: number;
  redisBytesPerSubscriber: number;
  recordBytes: number;
  indexBytesPerSubscriber: number;
}

interface PipelineResult {
  n: number;
  dkim: boolean;
  seconds: number;
  perSecond: number;
  ledgerBytesPerDelivery: number;
  /** used_memory growth from publish to published: ledger, counters, events, queue jobs kept. */
  runBytesPerDelivery: number;
  /** From the publish job's start to the last batch job queued. */
  fanOutSeconds: number;
  /** From publishAlert to the sink accepting the first message. */
  firstMailMs: number;
  /** Redis commands (INFO commandstats) per message, the benchmark's own status polling included. */
  redisCmdsPerMessage: number;
  /** The commands behind that figure, per message. */
  redisTopCommands: string;
  batches: number;
  /** Worker processes that ran it. */
  workers: number;
  workerIdleRss: number;
  workerPeakRss: number;
  workerHwm: number;
  workerHeap: HeapPeaks;
  workerRssByTenth: number[];
  /** Each worker process's peak RSS in each tenth of the run. */
  rssByTenthPerWorker: number[][];
  cpu: { worker: number; redis: number; sink: number };
  sink: SinkCounts;
  sent: number;
  rendered: RenderedEmail;
}

/** Calls per Redis command so far (INFO commandstats). */
async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  return new Map([...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((m) => [m[1], Number(m[2])]));
}

const callsDelta = (after: Map<string, number>, before: Map<string, number>) =>
  new Map([...after].map(([name, calls]) => [name, calls - (before.get(name) ?? 0)] as const).filter(([, calls]) => calls > 0));

async function seed(admin: Redis, redisUrl: string, smtpUrl: string, n: number): Promise<Seeded> {
  // A clean private Redis for every N, so memory deltas belong to these subscribers alone.
  await admin.flushall();
  const config = benchConfig(benchOverrides(redisUrl, smtpUrl, PREFIX, tuning));
  const ctx = await createContext(config, { log: createLogger('warn') });
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
  return { ctx, n, seedSeconds, redisBytesPerSubscriber: (afterSeed - before) / n, recordBytes, indexBytesPerSubscriber: indexBytes / n };
}

async function runPipeline(
  redis: PrivateRedis,
  admin: Redis,
  sink: ChildProcess,
  smtpUrl: string,
  seeded: Seeded,
  dkim: boolean,
  workerCount = WORKERS,
): Promise<PipelineResult> {
  const { ctx, n } = seeded;
  const overrides = benchOverrides(redis.url, smtpUrl, PREFIX, tuning, dkim);
  const workers: ChildProcess[] = [];
  try {
    const source = readFileSync(new URL('../examples/kazakhstan-2022-01.md', import.meta.url), 'utf8');
    const input = parseAlertMarkdown(source);
    const alert = await ctx.alerts.create(newAlert({ ...input, slug: `${input.slug}-${Math.random().toString(36).slice(2, 8)}` }));

    for (let i = 0; i < workerCount; i++) workers.push(forkBench('worker-process.ts', { BENCH_CONFIG: JSON.stringify(overrides) }, childArgv));
    await Promise.all(workers.map((w) => nextMessage(w, 'ready', 60_000)));
    const worker = workers[0];
    const pids = workers.map((w) => w.pid as number);
    const pid = pids[0];
    const workersCpu = () => pids.reduce((sum, p) => sum + cpuSecondsOf(p), 0);
    await sleep(300);
    const workerIdleRss = memoryOf(pid).rss;
    await request(sink, { type: 'reset' }, 'reset-done');
    const beforeRun = await usedMemory(admin);
    const commands0 = await commandCalls(admin);
    const cpu0 = { worker: workersCpu(), redis: cpuSecondsOf(redis.pid), sink: cpuSecondsOf(sink.pid as number) };
    const samplers = pids.map((p) => sampleRss(p, 50));
    const heap = sampleHeap(worker, 500);

    const publishedAt = Date.now();
    const t0 = performance.now();
    await publishAlert(ctx, alert.id, 'bench');
    const deadline = Date.now() + Math.max(120_000, n * 20);
    for (;;) {
      const status = await ctx.redis.hget(ctx.keys.alert(alert.id), 'status');
      if (status === 'published') break;
      if (Date.now() > deadline) throw new Error(`the alert was not published within ${Math.round((deadline - publishedAt) / 1000)} s (status ${status})`);
      const counts = await ctx.ledger.counts(alert.id);
      if (counts.totals.failed > 0)
        throw new Error(`${counts.totals.failed} deliveries failed: ${JSON.stringify((await ctx.ledger.problems(alert.id, 1))[0])}`);
      await sleep(50);
    }
    const seconds = (performance.now() - t0) / 1000;
    const rss = samplers.map((s) => s.stop());
    const { peak: workerPeakRss, byTenth: workerRssByTenth } = rss[0];
    const workerHeap = await heap.stop();
    const workerHwm = memoryOf(pid).hwm;
    const cpu = { worker: workersCpu() - cpu0.worker, redis: cpuSecondsOf(redis.pid) - cpu0.redis, sink: cpuSecondsOf(sink.pid as number) - cpu0.sink };
    const commandsByName = callsDelta(await commandCalls(admin), commands0);
    const commands = [...commandsByName.values()].reduce((a, b) => a + b, 0);
    const sinkCounts = await request<SinkCounts & { type: string }>(sink, { type: 'counts' }, 'counts');
    const counts = await ctx.ledger.counts(alert.id);
    const ledgerBytes = await memoryUsage(admin, ctx.keys.ledger(alert.id, EMAIL_CHANNEL));
    const afterRun = await usedMemory(admin);
    const pub = await ctx.publications.get(alert.id);
    const fanOutSeconds = pub.startedAt && pub.fannedOutAt ? (Date.parse(pub.fannedOutAt) - Date.parse(pub.startedAt)) / 1000 : NaN;
    const rendered = JSON.parse((await ctx.redis.get(ctx.keys.rendered(alert.id, EMAIL_CHANNEL))) as string) as RenderedEmail;
    await Promise.all(workers.map((w) => request(w, { type: 'stop' }, 'stopped', 30_000)));
    return {
      n,
      dkim,
      seconds,
      perSecond: n / seconds,
      ledgerBytesPerDelivery: ledgerBytes / n,
      runBytesPerDelivery: (afterRun - beforeRun) / n,
      fanOutSeconds,
      firstMailMs: sinkCounts.firstAt - publishedAt,
      redisCmdsPerMessage: commands / n,
      redisTopCommands: [...commandsByName]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([name, calls]) => `${name} ${round(calls / n, 2)}`)
        .join(', '),
      batches: pub.batches,
      workers: workerCount,
      workerIdleRss,
      workerPeakRss,
      workerRssByTenth,
      rssByTenthPerWorker: rss.map((r) => r.byTenth),
      workerHeap,
      workerHwm,
      cpu,
      sink: sinkCounts,
      sent: counts.channels[EMAIL_CHANNEL]?.sent ?? 0,
      rendered,
    };
  } finally {
    await Promise.all(workers.map((w) => stopChild(w, 15_000)));
  }
}

interface BaselineResult {
  n: number;
  seconds: number;
  perSecond: number;
  cpuSeconds: number;
  errors: number;
  sink: SinkCounts;
  messageBytes?: number;
  transportOptions: string;
}

async function runBaseline(
  sink: ChildProcess,
  redisUrl: string,
  smtpUrl: string,
  mode: 'loop' | 'raw',
  n: number,
  email: RenderedEmail,
  dkim: boolean,
): Promise<BaselineResult> {
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
        n,
        overrides: benchOverrides(redisUrl, smtpUrl, PREFIX, tuning, dkim),
        concurrency: inFlight,
        email,
        recipientFor: `${mode}{i}@example.org`,
      },
      'done',
      // The loop baseline is the slow one (~5 ms of CPU a message): allow it 50 ms a message.
      Math.max(600_000, n * 50),
    );
    if (done.errors > 0) throw new Error(`${mode} baseline: ${done.errors} sends failed, first: ${done.firstError}`);
    const counts = await request<SinkCounts & { type: string }>(sink, { type: 'counts' }, 'counts');
    return {
      n,
      seconds: done.seconds,
      perSecond: n / done.seconds,
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

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const msPer = (cpuSeconds: number, n: number) => (cpuSeconds * 1000) / n;

async function main() {
  const started = performance.now();
  const redis = await startPrivateRedis();
  const replicas: PrivateRedis[] = [];
  for (let i = 0; i < (tuning.waitReplicas ?? 0); i++) replicas.push(await startPrivateRedis(Number(new URL(redis.url).port)));
  const admin = new Redis(redis.url);
  // A DKIM key of the benchmark's own (RSA 2048, what a real deployment uses); children inherit it.
  if (DKIM) process.env[BENCH_DKIM_ENV] = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const sink = forkBench('smtp-sink.ts');
  const cleanup = async () => {
    await stopChild(sink);
    admin.disconnect();
    for (const replica of replicas) await replica.stop();
    await redis.stop();
  };
  // Interrupted or terminated: the private redis-server must not outlive the benchmark.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => void cleanup().then(() => process.exit(130)));
  const seeded: Seeded[] = [];
  try {
    const { port } = await nextMessage<{ type: string; port: number }>(sink, 'ready', 30_000);
    const smtpUrl = `smtp://127.0.0.1:${port}`;
    print(`tocsin fan-out benchmark: ${N.toLocaleString('en')} subscribers, ${ROUNDS} interleaved rounds, DKIM ${DKIM ? 'on (RSA 2048)' : 'off'}`);
    print(
      `tuning: email.batchSize=${tuning.batchSize} email.concurrency=${tuning.concurrency} email.sendConcurrency=${tuning.sendConcurrency} email.pool.maxConnections=${tuning.maxConnections} (in flight: ${inFlight})`,
    );
    print(`private redis-server ${redis.url} (no persistence); SMTP sink pid ${sink.pid} on port ${port}`);
    if (replicas.length) print(`${replicas.length} replica(s): the ledger WAITs for ${tuning.waitReplicas} after each claim and outcome write`);
    print();

    const sweep = !args['no-rss-sweep'] && N > SWEEP_AT;
    let small: PipelineResult | undefined;
    if (sweep) {
      const s = await seed(admin, redis.url, smtpUrl, SWEEP_AT);
      seeded.push(s);
      small = await runPipeline(redis, admin, sink, smtpUrl, s, DKIM);
      reportPipeline(small, s);
      await s.ctx.close();
      seeded.pop();
    }
    const big = await seed(admin, redis.url, smtpUrl, N);
    seeded.push(big);
    print(
      `seeded ${N.toLocaleString('en')} subscribers in ${round(big.seedSeconds)} s: ${Math.round(big.redisBytesPerSubscriber)} bytes of Redis each (one record ~${Math.round(big.recordBytes)} bytes + by-email index ~${Math.round(big.indexBytesPerSubscriber)} bytes)`,
    );
    print();

    // Rounds interleave every variant, so drift in the shared machine's load hits them alike.
    const pipelines: PipelineResult[] = [];
    const plain: PipelineResult[] = [];
    // With --workers N > 1: the same pipeline with one worker process, in the same rounds.
    const single: PipelineResult[] = [];
    const raws: BaselineResult[] = [];
    const loops: BaselineResult[] = [];
    // Each round runs every variant; the order rotates from round to round, so no variant always
    // follows the same one (a loaded machine's slow minute should not always land on the same).
    const variants: Array<() => Promise<void>> = [
      async () => {
        const p = await runPipeline(redis, admin, sink, smtpUrl, big, DKIM);
        pipelines.push(p);
        reportPipeline(p);
      },
      async () => {
        if (args['no-baselines']) return;
        const raw = await runBaseline(sink, redis.url, smtpUrl, 'raw', BASELINE_N, rendered(), DKIM);
        raws.push(raw);
        reportBaseline('(b) raw-socket blast', raw, `one ${raw.messageBytes} byte message`);
      },
      async () => {
        if (!DKIM) return;
        const q = await runPipeline(redis, admin, sink, smtpUrl, big, false);
        plain.push(q);
        reportPipeline(q);
      },
      async () => {
        if (WORKERS === 1) return;
        const one = await runPipeline(redis, admin, sink, smtpUrl, big, DKIM, 1);
        single.push(one);
        reportPipeline(one);
      },
      async () => {
        if (args['no-baselines']) return;
        const loop = await runBaseline(sink, redis.url, smtpUrl, 'loop', LOOP_N, rendered(), DKIM);
        loops.push(loop);
        reportBaseline('(a) nodemailer sendMail loop', loop, `full message object per recipient, ${inFlight} calls in flight, not signed`);
      },
    ];
    // The baselines send the pipeline's own rendered email, so a pipeline run goes first once.
    const rendered = () => (pipelines[0] ?? plain[0]).rendered;
    for (let r = 1; r <= ROUNDS; r++) {
      print(`round ${r} of ${ROUNDS}`);
      for (let i = 0; i < variants.length; i++) await variants[(i + r - 1) % variants.length]();
      print();
    }

    const first = pipelines[0];
    const pipelinePerS = median(pipelines.map((p) => p.perSecond));
    const singlePerS = single.length ? median(single.map((p) => p.perSecond)) : null;
    const speedup = singlePerS === null ? null : pipelinePerS / singlePerS;
    // RSS "flat" within a run: no tenth's peak more than 10% above the median tenth, in any worker.
    const tenthsFlat = (tenths: number[]) => Math.max(...tenths) <= 1.1 * median(tenths);
    const rssFlatTenths = pipelines.every((p) => p.rssByTenthPerWorker.every(tenthsFlat));
    const fanOutSeconds = median(pipelines.map((p) => p.fanOutSeconds));
    const plainPerS = plain.length ? median(plain.map((p) => p.perSecond)) : null;
    const rawPerS = raws.length ? median(raws.map((b) => b.perSecond)) : null;
    const loopPerS = loops.length ? median(loops.map((b) => b.perSecond)) : null;
    const pipelineCpu = median(pipelines.map((p) => msPer(p.cpu.worker, p.n)));
    const plainCpu = plain.length ? median(plain.map((p) => msPer(p.cpu.worker, p.n))) : null;
    const rawCpu = raws.length ? median(raws.map((b) => msPer(b.cpuSeconds, b.n))) : null;
    const loopCpu = loops.length ? median(loops.map((b) => msPer(b.cpuSeconds, b.n))) : null;
    const firstMail = median(pipelines.map((p) => p.firstMailMs));
    const redisCmds = median(pipelines.map((p) => p.redisCmdsPerMessage));
    const ratioLoop = loopPerS === null ? null : pipelinePerS / loopPerS;
    const ratioRaw = rawPerS === null ? null : pipelinePerS / rawPerS;
    const ratioRawPlain = rawPerS === null || plainPerS === null ? null : plainPerS / rawPerS;
    // "Flat": the larger run's figure is within 10% (or 10 MB, whichever is more) of the smaller's.
    const flat = (a: number, b: number) => b - a <= Math.max(10 * 1048576, a * 0.1);
    const targets = {
      vs_loop_2x: ratioLoop === null ? null : ratioLoop >= 2,
      vs_raw_0_6x: ratioRaw === null ? null : ratioRaw >= 0.6,
      vs_raw_0_8x: ratioRaw === null ? null : ratioRaw >= 0.8,
      rss_flat: small ? flat(small.workerPeakRss, first.workerPeakRss) : null,
      // The same on the second half of each run, after the one-off start (first render, fan-out).
      rss_flat_second_half: small ? flat(secondHalf(small), secondHalf(first)) : null,
      redis_250_bytes: big.redisBytesPerSubscriber <= 250,
      rss_flat_tenths: rssFlatTenths,
    };
    const list = (xs: number[]) => xs.map((x) => Math.round(x)).join(', ');

    print(`summary (medians of ${ROUNDS} rounds)`);
    print(
      `  pipeline${DKIM ? ', DKIM on ' : '          '}${Math.round(pipelinePerS)} msg/s   [${list(pipelines.map((p) => p.perSecond))}]   worker CPU ${round(pipelineCpu, 3)} ms/msg`,
    );
    if (singlePerS !== null)
      print(
        `  ${WORKERS} worker processes vs 1: ${Math.round(pipelinePerS)} against ${Math.round(singlePerS)} msg/s [${list(single.map((p) => p.perSecond))}] = ${round(speedup!, 2)}x (worker CPU with 1: ${round(median(single.map((p) => msPer(p.cpu.worker, p.n))), 3)} ms/msg)`,
      );
    if (plainPerS !== null)
      print(`  pipeline, DKIM off ${Math.round(plainPerS)} msg/s   [${list(plain.map((p) => p.perSecond))}]   worker CPU ${round(plainCpu!, 3)} ms/msg`);
    if (rawPerS !== null)
      print(
        `  raw-socket blast   ${Math.round(rawPerS)} msg/s   [${list(raws.map((b) => b.perSecond))}]   CPU ${round(rawCpu!, 3)} ms/msg   pipeline/raw = ${round(ratioRaw!, 2)} (>= 0.6 ${targets.vs_raw_0_6x ? 'met' : 'NOT met'}, goal 0.8)${ratioRawPlain === null ? '' : `; without DKIM ${round(ratioRawPlain, 2)}`}`,
      );
    if (loopPerS !== null)
      print(
        `  nodemailer loop    ${Math.round(loopPerS)} msg/s   [${list(loops.map((b) => b.perSecond))}]   CPU ${round(loopCpu!, 3)} ms/msg   pipeline/loop = ${round(ratioLoop!, 2)} (>= 2 ${targets.vs_loop_2x ? 'met' : 'NOT met'})`,
      );
    if (plainCpu !== null) print(`  DKIM cost: ${round(pipelineCpu - plainCpu, 3)} ms of worker CPU per message (RSA-2048 signature, header canonicalization)`);
    print(`  first mail ${Math.round(firstMail)} ms after publish; ${round(redisCmds, 2)} Redis commands per message`);
    if (small) {
      print(
        `  worker peak RSS ${mb(small.workerPeakRss)} MB at ${small.n.toLocaleString('en')}, ${mb(first.workerPeakRss)} MB at ${first.n.toLocaleString('en')}   (target: flat) ${targets.rss_flat ? 'met' : 'NOT met'}`,
      );
      print(
        `  worker peak RSS in the second half of the run: ${mb(secondHalf(small))} MB at ${small.n.toLocaleString('en')}, ${mb(secondHalf(first))} MB at ${first.n.toLocaleString('en')}   ${targets.rss_flat_second_half ? 'flat' : 'NOT flat'}`,
      );
    } else print(`  worker peak RSS ${mb(first.workerPeakRss)} MB at ${first.n.toLocaleString('en')}`);
    print(
      `  redis per subscriber ${Math.round(big.redisBytesPerSubscriber)} bytes (target <= 250) ${targets.redis_250_bytes ? 'met' : 'NOT met'}; ledger ${Math.round(first.ledgerBytesPerDelivery)} bytes per delivery`,
    );
    print(
      `  worker RSS in each tenth of the run (MB, first round${WORKERS > 1 ? ', each worker' : ''}): ${first.rssByTenthPerWorker.map((t) => t.map((b) => Math.round(mb(b))).join(' ')).join(' | ')}   (no tenth > 1.1 x median) ${rssFlatTenths ? 'met' : 'NOT met'}`,
    );
    print(
      `  fan-out ${round(fanOutSeconds)} s (paced: at most email.fanOutAhead recipients ahead of the senders); Redis ${Math.round(big.redisBytesPerSubscriber)} bytes per subscriber, ${Math.round(first.runBytesPerDelivery)} per delivery (ledger ${Math.round(first.ledgerBytesPerDelivery)})`,
    );
    print(
      `  load average at the end: ${loadavg()
        .map((x) => round(x, 1))
        .join(' ')} (${cpus().length} CPUs)`,
    );
    print(`  total wall time ${round((performance.now() - started) / 1000)} s`);

    print(
      JSON.stringify({
        subscribers: N,
        baseline_messages: args['no-baselines'] ? null : BASELINE_N,
        loop_messages: args['no-baselines'] ? null : LOOP_N,
        rounds: ROUNDS,
        dkim: DKIM,
        pipeline_per_s: Math.round(pipelinePerS),
        pipeline_no_dkim_per_s: plainPerS === null ? null : Math.round(plainPerS),
        nodemailer_loop_per_s: loopPerS === null ? null : Math.round(loopPerS),
        // The raw-socket blast with PIPELINING (bench/lib/raw-blast.ts); before, nodemailer sendMail({raw}).
        prerendered_per_s: rawPerS === null ? null : Math.round(rawPerS),
        ratio_vs_loop: ratioLoop === null ? null : round(ratioLoop, 2),
        ratio_vs_prerendered: ratioRaw === null ? null : round(ratioRaw, 2),
        ratio_vs_prerendered_no_dkim: ratioRawPlain === null ? null : round(ratioRawPlain, 2),
        raw_cpu_ms_per_msg: rawCpu === null ? null : round(rawCpu, 3),
        pipeline_cpu_ms_per_msg: round(pipelineCpu, 3),
        pipeline_no_dkim_cpu_ms_per_msg: plainCpu === null ? null : round(plainCpu, 3),
        dkim_cpu_ms_per_msg: plainCpu === null ? null : round(pipelineCpu - plainCpu, 3),
        loop_cpu_ms_per_msg: loopCpu === null ? null : round(loopCpu, 3),
        redis_cmds_per_msg: round(redisCmds, 2),
        first_mail_ms: Math.round(firstMail),
        worker_peak_rss_mb: mb(first.workerPeakRss),
        worker_peak_rss_mb_small: small ? mb(small.workerPeakRss) : null,
        worker_second_half_rss_mb: mb(secondHalf(first)),
        worker_second_half_rss_mb_small: small ? mb(secondHalf(small)) : null,
        small_subscribers: small ? small.n : null,
        worker_idle_rss_mb: mb(first.workerIdleRss),
        worker_rss_by_tenth_mb: first.rssByTenthPerWorker.map((t) => t.map((b) => Math.round(mb(b)))),
        workers: WORKERS,
        pipeline_1_worker_per_s: singlePerS === null ? null : Math.round(singlePerS),
        workers_speedup: speedup === null ? null : round(speedup, 2),
        fan_out_seconds: round(fanOutSeconds, 1),
        seed_seconds: round(big.seedSeconds, 1),
        load_average: loadavg().map((x) => round(x, 2)),
        redis_bytes_per_subscriber: Math.round(big.redisBytesPerSubscriber),
        redis_record_bytes: Math.round(big.recordBytes),
        redis_index_bytes_per_subscriber: Math.round(big.indexBytesPerSubscriber),
        ledger_bytes_per_delivery: Math.round(first.ledgerBytesPerDelivery),
        redis_run_bytes_per_delivery: Math.round(first.runBytesPerDelivery),
        pipeline_seconds: round(median(pipelines.map((p) => p.seconds)), 2),
        nodemailer_loop_seconds: loops.length ? round(median(loops.map((b) => b.seconds)), 2) : null,
        prerendered_seconds: raws.length ? round(median(raws.map((b) => b.seconds)), 2) : null,
        cpu_seconds: {
          worker: round(median(pipelines.map((p) => p.cpu.worker))),
          redis: round(median(pipelines.map((p) => p.cpu.redis))),
          sink: round(median(pipelines.map((p) => p.cpu.sink))),
          loop: loops.length ? round(median(loops.map((b) => b.cpuSeconds))) : null,
          prerendered: raws.length ? round(median(raws.map((b) => b.cpuSeconds))) : null,
        },
        tuning: { ...tuning, inFlight },
        targets,
      }),
    );
  } finally {
    for (const s of seeded) await s.ctx.close();
    await cleanup();
  }
}

function reportPipeline(r: PipelineResult, seeded?: Seeded) {
  print(`  pipeline, ${r.n.toLocaleString('en')} subscribers, DKIM ${r.dkim ? 'on' : 'off'}, ${r.workers} worker process${r.workers > 1 ? 'es' : ''}`);
  if (seeded && seeded.n === r.n && r.n !== N)
    print(`    redis: ${Math.round(seeded.redisBytesPerSubscriber)} bytes per subscriber (seeded in ${round(seeded.seedSeconds)} s)`);
  print(
    `    delivered ${r.n.toLocaleString('en')} in ${round(r.seconds, 2)} s = ${Math.round(r.perSecond)} msg/s; first mail ${Math.round(r.firstMailMs)} ms after publish; fan-out queued ${r.batches} batch jobs in ${round(r.fanOutSeconds)} s`,
  );
  print(
    `    sink: ${r.sink.messages} messages, ${r.sink.unique} distinct recipients, ${r.sink.duplicates} duplicates, ${mb(r.sink.bytes)} MB over ${r.sink.connections} connections; ledger: ${r.sent} sent`,
  );
  print(`    CPU: worker ${round(msPer(r.cpu.worker, r.n), 3)} ms/msg (${round(r.cpu.worker)} s), redis ${round(r.cpu.redis)} s, sink ${round(r.cpu.sink)} s`);
  print(`    Redis commands per message: ${round(r.redisCmdsPerMessage, 2)} (${r.redisTopCommands})`);
  print(
    `    ledger: ${Math.round(r.ledgerBytesPerDelivery)} bytes per delivery; Redis grew ${Math.round(r.runBytesPerDelivery)} bytes per delivery in all (ledger, events, finished jobs)`,
  );
  print(`    worker RSS: ${mb(r.workerIdleRss)} MB idle, ${mb(r.workerPeakRss)} MB peak while sending (VmHWM ${mb(r.workerHwm)} MB)`);
  print(`    worker RSS peak in each tenth of the run (MB): ${r.rssByTenthPerWorker.map((t) => t.map((b) => Math.round(mb(b))).join(' ')).join(' | ')}`);
  print(
    `    worker V8 heap used / external memory peak in each tenth (MB): ${r.workerHeap.heapByTenth.map((b) => Math.round(mb(b))).join(' ')} / ${r.workerHeap.externalByTenth.map((b) => Math.round(mb(b))).join(' ')}`,
  );
  if (r.sink.unique !== r.n || r.sink.duplicates !== 0 || r.sent !== r.n)
    print(`    WARNING: expected ${r.n} distinct recipients, no duplicates and ${r.n} sent`);
}

const secondHalf = (r: PipelineResult) => Math.max(...r.workerRssByTenth.slice(5));

function reportBaseline(name: string, r: BaselineResult, how: string) {
  print(
    `  ${name}: ${r.n.toLocaleString('en')} in ${round(r.seconds, 2)} s = ${Math.round(r.perSecond)} msg/s (${how}); CPU ${round(msPer(r.cpuSeconds, r.n), 3)} ms/msg; sink got ${r.sink.unique} distinct over ${r.sink.connections} connections`,
  );
  print(`    how: ${r.transportOptions}`);
  if (r.sink.unique !== r.n || r.sink.duplicates !== 0)
    print(`    WARNING: the sink got ${r.sink.unique} distinct recipients and ${r.sink.duplicates} duplicates, expected ${r.n} and 0`);
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
