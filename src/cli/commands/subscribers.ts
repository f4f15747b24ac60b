import { createReadStream, existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { importSubscribers, summary, type ImportReport } from '../../subscriptions/import.js';
import { eraseSubscriber } from '../../subscriptions/erase.js';
import { exportSubscribers, parseStatuses } from '../../subscriptions/export.js';
import { expirePending } from '../../subscriptions/pending.js';
import { dsnEvents, parseDsn } from '../../subscriptions/bounces/dsn.js';
import { recordBounces } from '../../subscriptions/bounces/policy.js';
import { emailSchema, maskEmail } from '../../domain/subscriber.js';
import { withContext, fail, print } from '../runtime.js';

/** Reads the address from the argument, or from stdin when it is "-" (keeps it out of shell history). */
function addressArgument(arg: string): string {
  const raw = arg === '-' ? readFileSync(0, 'utf8').trim() : arg;
  const parsed = emailSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`email: ${parsed.error.issues[0]?.message ?? 'is not a valid email address'}`);
  return parsed.data;
}

export function registerSubscriberCommands(program: Command): void {
  const subs = program.command('subscribers').description('import, count and list email subscribers');
  subs
    .command('import <file>')
    .description('import a CSV with columns email, countries, level; duplicates merge, bad rows are reported')
    .requiredOption('--consent <basis>', 'how these people agreed to receive alerts, recorded with each (e.g. "newsletter-2023")')
    .action((file: string, opts: { consent: string }) =>
      withContext(async (ctx) => {
        if (!existsSync(file)) throw new Error(`no file at ${file}`);
        const printErrors = (r: ImportReport) => {
          for (const e of r.errors) print(`  line ${e.line}: ${e.message}`);
          if (r.rejected > r.errors.length) print(`  (and ${r.rejected - r.errors.length} more rejected rows not listed)`);
        };
        try {
          const r = await importSubscribers(ctx, createReadStream(file), opts.consent);
          print(summary(r));
          printErrors(r);
          if (r.rejected > 0) process.exitCode = 2;
        } catch (err) {
          // A file that breaks part-way: the rows before the break are stored and reported.
          const partial = (err as { report?: ImportReport }).report;
          if (partial) printErrors(partial);
          throw err;
        }
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
          print(
            `${String(s.id).padStart(7)}  ${(opts.full ? s.email : maskEmail(s.email)).padEnd(30)}  ${s.status.padEnd(12)}  ${s.minLevel.padEnd(9)}  ${countries}`,
          );
        }
      }).catch(fail),
    );
  subs
    .command('erase <email>')
    .description(
      'delete everything about one person (GDPR erasure); only a keyed hash stays, so no import re-adds them. Use "-" to read the address from stdin',
    )
    .action((email: string) =>
      withContext(async (ctx) => {
        const address = addressArgument(email);
        const r = await eraseSubscriber(ctx, address);
        print(
          r.found
            ? `Erased ${maskEmail(address)}${r.scrubbed ? ` (also removed from ${r.scrubbed} delivery or queue record${r.scrubbed === 1 ? '' : 's'})` : ''}. Only a keyed hash stays on the suppression list.`
            : `No subscriber had that address. Its keyed hash is on the suppression list, so no import can add it.`,
        );
      }).catch(fail),
    );
  subs
    .command('export')
    .description('write subscribers as CSV to stdout, with consent columns, for migration (re-importable)')
    .option('--status <list>', 'confirmed (default), all, or a comma-separated list of statuses', 'confirmed')
    .action((opts: { status: string }) =>
      withContext(async (ctx) => {
        const statuses = parseStatuses(opts.status);
        for await (const line of exportSubscribers(ctx, statuses)) process.stdout.write(line);
      }).catch(fail),
    );
  subs
    .command('expire-pending')
    .description('delete unconfirmed subscriptions whose confirmation time is up (the server also does this every few minutes)')
    .action(() =>
      withContext(async (ctx) => {
        let total = 0;
        for (let n = await expirePending(ctx); n > 0; n = await expirePending(ctx)) total += n;
        print(`${total} expired unconfirmed subscription${total === 1 ? '' : 's'} deleted.`);
      }).catch(fail),
    );

  const bounces = program.command('bounces').description('bounce reports that come back by mail');
  bounces
    .command('parse <file>')
    .description('read an RFC 3464 delivery status notification (a saved bounce email, or "-" for stdin); --apply records the bounces')
    .option('--apply', 'apply the bounce policy: suppress hard bounces, count soft ones')
    .option('--full', 'show full addresses')
    .action((file: string, opts: { apply?: boolean; full?: boolean }) =>
      withContext(async (ctx) => {
        if (file !== '-' && !existsSync(file)) throw new Error(`no file at ${file}`);
        const report = parseDsn(readFileSync(file === '-' ? 0 : file));
        if (report.reportingMta) print(`Reporting MTA: ${report.reportingMta}`);
        for (const r of report.recipients) {
          const shown = (text: string) => (opts.full ? text : text.replace(/[^\s<>;:"@]+@[^\s<>;:"]+/g, (address) => maskEmail(address)));
          print(
            `${shown(r.finalRecipient).padEnd(32)} ${r.action.padEnd(9)} ${r.status.padEnd(7)} ${r.kind ?? 'not a bounce'}${r.diagnosticCode ? `  ${shown(r.diagnosticCode)}` : ''}`,
          );
        }
        if (opts.apply) {
          const result = await recordBounces(ctx, dsnEvents(report), 'dsn');
          print(`Applied: ${result.suppressed} suppressed, ${result.counted} counted, ${result.ignored} ignored.`);
        }
      }).catch(fail),
    );
}
