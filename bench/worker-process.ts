import { createContext } from '../src/context.js';
import { startWorkers } from '../workers/run.js';
import { benchConfig } from './lib/config.js';

// The pipeline's workers, alone in this process, exactly as `tocsin worker` runs them, so the
// parent can read this process's resident memory from /proc while it fans out.

const config = benchConfig(JSON.parse(process.env.BENCH_CONFIG ?? '{}') as Record<string, unknown>);
const ctx = await createContext(config);
const workers = startWorkers(ctx, new Map());
await Promise.all(workers.workers.map((w) => w.waitUntilReady()));
// As `tocsin worker` does at start: MJML loaded before the first alert arrives.
await workers.warmedUp;

async function onMessage(m: { type: string }): Promise<void> {
  // What the resident memory is made of: the JS heap, or buffers outside it (sockets, MIME).
  if (m.type === 'memory') process.send?.({ type: 'memory', ...process.memoryUsage() });
  if (m.type !== 'stop') return;
  await workers.close();
  await ctx.close();
  const cpu = process.cpuUsage();
  process.send?.({ type: 'stopped', cpuSeconds: (cpu.user + cpu.system) / 1e6 }, () => process.exit(0));
}
process.on('message', (m: { type: string }) => void onMessage(m));
process.on('disconnect', () => process.exit(1));
process.send?.({ type: 'ready' });
