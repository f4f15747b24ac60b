import { createReadStream, existsSync } from 'node:fs';
import type { Command } from 'commander';
import { importSubscribers } from '../../subscriptions/import.js';
import { maskEmail } from '../../domain/subscriber.js';
import { withContext, fail, print } from '../runtime.js';

export function registerSubscriberCommands(program: Command): void {
  const subs = program.command('subscribers').description('import, count and list email subscribers');
  subs
    .command('import <file>')
    .description('import a CSV with columns email, countries, level; duplicates merge, bad rows are reported')
    .requiredOption('--consent <basis>', 'how these people agreed to receive alerts, recorded with each (e.g. "newsletter-2023")')
    .action((file: string, opts: { consent: string }) =>
      withContext(async (ctx) => {
        if (!existsSync(file)) throw new Error(`no file at ${file}`);
        const r = await importSubscribers(ctx, createReadStream(file), opts.consent);
        print(`${r.rows} rows: ${r.added} added, ${r.updated} updated, ${r.unchanged} unchanged, ${r.merged} duplicate rows merged, ${r.suppressed} suppressed (unsubscribed, bounced or erased), ${r.errors.length} rejected.`);
        for (const e of r.errors) print(`  line ${e.line}: ${e.message}`);
        if (r.errors.length > 0) process.exitCode = 2;
      }).catch(fail),
    );
  subs
    .command('count')
    .description('subscribers by status')
    .action(() =>
      withContext(async (ctx) => {
        const counts = await ctx.subscribers.countByStatus();
        for (const [status, n] of Object.entries(counts)) print(`${status.padEnd(13)} ${n}`);
        print(`${'total'.padEnd(13)} ${Object.values(counts).reduce((a, b) => a + b, 0)}`);
      }).catch(fail),
    );
  subs
    .command('list')
    .description('list subscribers (addresses masked unless --full)')
    .option('--status <status>', 'only this status')
    .option('--full', 'show full addresses (for exports; handle with care)')
    .action((opts: { status?: string; full?: boolean }) =>
      withContext(async (ctx) => {
        for await (const s of ctx.subscribers.scan()) {
          if (opts.status && s.status !== opts.status) continue;
          const countries = s.countries === '*' ? '*' : s.countries.join(',');
          print(`${String(s.id).padStart(7)}  ${(opts.full ? s.email : maskEmail(s.email)).padEnd(30)}  ${s.status.padEnd(12)}  ${s.minLevel.padEnd(9)}  ${countries}`);
        }
      }).catch(fail),
    );
}
