import { readFileSync, existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { cliActor } from '../../config/environment.js';
import { parseAlertFile } from '../../domain/parse.js';
import { errors } from '../../errors.js';
import { haltAlert, resumeAlert } from '../../publish/halt.js';
import { correctAlert, retractAlert } from '../../publish/follow-up.js';
import { withContext, fail, print } from '../runtime.js';

// halt, resume, correct and retract: stopping an alert that is going out, and sending a new
// version of one that went out, on every channel. The same operations as the API and console.

export function registerFollowUpCommands(program: Command): void {
  program
    .command('halt <id>')
    .description('stop an alert that is still going out: what is not yet sent is skipped (sends in flight finish)')
    .option('--reason <text>', 'recorded with every skipped delivery and in the audit log', 'halted from the command line')
    .action((id: string, opts: { reason: string }) =>
      withContext(async (ctx) => {
        const result = await haltAlert(ctx, id, cliActor(), opts.reason);
        if (result.outcome === 'already') {
          print(`Already halted by ${result.halt.by} at ${result.halt.at}: ${result.halt.reason}`);
          return;
        }
        const skipped = Object.entries(result.skipped);
        print(`Halted. ${skipped.length ? skipped.map(([ch, n]) => `${ch}: ${n} skipped`).join(', ') : 'Nothing was waiting.'}`);
        print('Sends already in flight finish and are recorded. `tocsin resume <id>` sends the rest; `correct` or `retract` supersede it.');
      }).catch(fail),
    );

  program
    .command('resume <id>')
    .description('send what a halt skipped: only those not yet sent')
    .action((id: string) =>
      withContext(async (ctx) => {
        const result = await resumeAlert(ctx, id, cliActor());
        const entries = Object.entries(result.requeued);
        print(`Resumed. ${entries.length ? entries.map(([ch, n]) => `${ch}: ${n} queued again`).join(', ') : 'Nothing was skipped.'}`);
      }).catch(fail),
    );

  program
    .command('correct <id> <file>')
    .description('publish a corrected version (an alert file) on every channel, as a reply to the original')
    .requiredOption('--note <text>', 'what changed, as readers will see it ("The date was 8 January, not 1 August.")')
    .action((id: string, file: string, opts: { note: string }) =>
      withContext(
        async (ctx) => {
          if (!existsSync(file)) throw errors.BODY_INVALID(`file: no file at ${file}`);
          const input = parseAlertFile(basename(file), readFileSync(file, 'utf8'));
          const result = await correctAlert(ctx, id, input, opts.note, cliActor());
          print(result.message);
        },
        { publishes: true },
      ).catch(fail),
    );

  program
    .command('retract <id>')
    .description('retract an alert on every channel (the public page stays, marked retracted)')
    .requiredOption('--reason <text>', 'why, as readers will see it')
    .option('--delete-originals', 'also delete the original social posts where the provider allows it')
    .action((id: string, opts: { reason: string; deleteOriginals?: boolean }) =>
      withContext(
        async (ctx) => {
          const result = await retractAlert(ctx, id, opts.reason, cliActor(), { deleteOriginals: opts.deleteOriginals === true });
          print(result.message);
        },
        { publishes: true },
      ).catch(fail),
    );
}
