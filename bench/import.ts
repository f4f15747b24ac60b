import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { forkBench, nextMessage } from './lib/children.js';
import { startPrivateRedis } from './lib/private-redis.js';
import { BENCH_PUBLIC_URL } from './lib/config.js';

// `npm run bench:import [-- --rows N]`: writes a CSV of N subscribers (default 1,000,000: about
// 1% repeated addresses, 0.1% bad rows), then in separate processes
//   (baseline) streams it through csv-parse with the import's options, storing nothing;
//   (import)   imports it with importSubscribers into a private redis-server.
// Prints rows/s, peak RSS (VmHWM) of each process and the import's rate as a share of the
// baseline's. Targets: 1M rows in under 60 s and under 300 MB RSS. A measurement, not a test.

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROWS = arg('rows', 1_000_000);
const COUNTRIES = ['KZ', 'UA', 'SD', 'MM', 'ET', 'CD', 'SS', 'AF', 'SY', 'YE'];
const LEVELS = ['all', 'watch', 'warning', 'emergency'];

async function writeCsv(path: string): Promise<void> {
  const out = createWriteStream(path);
  out.write('email,countries,level\n');
  let chunk = '';
  for (let i = 0; i < ROWS; i++) {
    // Every 100th row repeats an earlier address with other choices; every 1000th is bad.
    const who = i % 100 === 99 ? i - 50 : i;
    const email = i % 1000 === 999 ? `not-an-address-${i}` : `subscriber.${who}@example${who % 97}.org`;
    const countries = i % 7 === 0 ? '*' : `${COUNTRIES[i % 10]};${COUNTRIES[(i * 3) % 10]}`;
    chunk += `${email},${countries},${LEVELS[i % 4]}\n`;
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

interface Done {
  type: 'done';
  seconds: number;
  peakRss: number;
  cpuSeconds: number;
  result: Record<string, number>;
}

async function run(mode: 'parse' | 'import', env: Record<string, string>): Promise<Done> {
  const child = forkBench('import-process.ts', { BENCH_IMPORT_MODE: mode, ...env });
  return nextMessage<Done>(child, 'done', 900_000);
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;
const dir = mkdtempSync(join(tmpdir(), 'tocsin-bench-import-'));
const file = join(dir, 'subscribers.csv');
const redis = await startPrivateRedis();
try {
  console.log(`Writing ${ROWS.toLocaleString('en')} rows...`);
  await writeCsv(file);
  console.log(`${file}: ${mb(statSync(file).size)}`);
  const env = {
    BENCH_IMPORT_FILE: file,
    BENCH_CONFIG: JSON.stringify({ redis: { url: redis.url, prefix: 'bench-import' }, http: { publicUrl: BENCH_PUBLIC_URL }, log: { level: 'warn' } }),
  };
  const cpuOf = async () => {
    const probe = new Redis(redis.url);
    const info = await probe.info('cpu');
    probe.disconnect();
    return Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0);
  };
  const baseline = await run('parse', env);
  const redisCpuBefore = await cpuOf();
  console.log(`baseline (csv-parse, nothing stored): ${baseline.seconds.toFixed(1)} s, peak RSS ${mb(baseline.peakRss)}`);
  const imported = await run('import', env);
  const redisCpu = (await cpuOf()) - redisCpuBefore;
  console.log(`import: ${imported.seconds.toFixed(1)} s, peak RSS ${mb(imported.peakRss)}`, imported.result);

  const check = new Redis(redis.url);
  const stored = Number(await check.get('bench-import:sub:seq'));
  const usedMemory = Number(/used_memory:(\d+)/.exec(await check.info('memory'))?.[1] ?? 0);
  check.disconnect();

  const rate = (d: Done) => ROWS / d.seconds;
  const ratio = rate(imported) / rate(baseline);
  console.log('');
  console.log('| | rows/s | time | peak RSS | CPU s |');
  console.log('| --- | --- | --- | --- | --- |');
  console.log(
    `| (a) csv-parse only | ${rate(baseline).toFixed(0)} | ${baseline.seconds.toFixed(1)} s | ${mb(baseline.peakRss)} | ${baseline.cpuSeconds.toFixed(1)} |`,
  );
  console.log(
    `| import | ${rate(imported).toFixed(0)} | ${imported.seconds.toFixed(1)} s | ${mb(imported.peakRss)} | ${imported.cpuSeconds.toFixed(1)} (+ Redis ${redisCpu.toFixed(1)}) |`,
  );
  console.log('');
  console.log(`import rate / csv-parse rate: ${ratio.toFixed(2)}`);
  // On a shared machine wall time depends on what else runs; CPU time much less.
  console.log(
    `CPU per 1M rows: import process ${((imported.cpuSeconds * 1e6) / ROWS).toFixed(1)} s, Redis ${((redisCpu * 1e6) / ROWS).toFixed(1)} s; load average ${(await import('node:os')).loadavg()[0].toFixed(1)}`,
  );
  console.log(`subscribers stored: ${stored.toLocaleString('en')}; Redis used_memory ${mb(usedMemory)}`);
  const seconds = imported.seconds * (1_000_000 / ROWS);
  console.log(
    `targets (scaled to 1M rows): under 60 s: ${seconds < 60 ? 'met' : 'MISSED'} (${seconds.toFixed(1)} s); under 300 MB RSS: ${imported.peakRss < 300 * 1024 * 1024 ? 'met' : 'MISSED'}`,
  );
  console.log(
    JSON.stringify({
      rows: ROWS,
      importRowsPerSecond: Math.round(rate(imported)),
      importSeconds: imported.seconds,
      importPeakRssBytes: imported.peakRss,
      importCpuSeconds: imported.cpuSeconds,
      redisCpuSeconds: Number(redisCpu.toFixed(2)),
      baselineRowsPerSecond: Math.round(rate(baseline)),
      baselinePeakRssBytes: baseline.peakRss,
      ratio: Number(ratio.toFixed(3)),
      stored,
      report: imported.result,
    }),
  );
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
