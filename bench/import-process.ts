import { createReadStream, readFileSync } from 'node:fs';
import { parse } from 'csv-parse';
import { createContext } from '../src/context.js';
import { importSubscribers } from '../src/subscriptions/import.js';
import { benchConfig } from './lib/config.js';

// One measured run, alone in this process so its peak RSS (VmHWM) is its own:
//   parse:  csv-parse streaming the file with the options the import uses, storing nothing;
//   import: `importSubscribers`, what `tocsin subscribers import` runs.

const mode = process.env.BENCH_IMPORT_MODE;
const file = process.env.BENCH_IMPORT_FILE as string;
const peakRss = () => Number(/^VmHWM:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;

const started = performance.now();
let result: Record<string, unknown>;
if (mode === 'parse') {
  let rows = 0;
  const parser = createReadStream(file).pipe(
    parse({ columns: true, bom: true, trim: true, skip_empty_lines: false, raw: true, relax_column_count: true, max_record_size: 1024 * 1024 }),
  );
  for await (const _ of parser) rows++;
  result = { rows };
} else {
  const ctx = await createContext(benchConfig(JSON.parse(process.env.BENCH_CONFIG ?? '{}') as Record<string, unknown>));
  const report = await importSubscribers(ctx, createReadStream(file), 'bench');
  await ctx.close();
  result = { ...report, errors: report.errors.length };
}
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage();
process.send?.({ type: 'done', seconds, peakRss: peakRss(), cpuSeconds: (cpu.user + cpu.system) / 1e6, result }, () => process.exit(0));
