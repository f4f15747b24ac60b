import { readFileSync, existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { cliActor } from '../../config/environment.js';
import type { Context } from '../../context.js';
import { newAlert } from '../../domain/alert.js';
import { parseAlertFile, MAX_ALERT_SOURCE_BYTES } from '../../domain/parse.js';
import { publishAlert } from '../../publish/publish.js';
import { errors } from '../../errors.js';
import { withContext, fail, print } from '../runtime.js';

/** A path to an alert file, or the id/slug of a stored alert. Files are stored as drafts first. */
async function resolveAlert(ctx: Context, fileOrId: string): Promise<string> {
  if (!existsSync(fileOrId)) return (await ctx.alerts.require(fileOrId)).id;
  if (statSync(fileOrId).size > MAX_ALERT_SOURCE_BYTES) throw errors.ALERT_INVALID(`(file): larger than ${MAX_ALERT_SOURCE_BYTES} bytes`);
  const input = parseAlertFile(basename(fileOrId), readFileSync(fileOrId, 'utf8'));
  const existing = input.slug ? await ctx.alerts.get(input.slug) : null;
  if (existing) return existing.id;
  const alert = await ctx.alerts.create(newAlert(input, new Date(), cliActor()));
  await ctx.audit.record(alert.id, { actor: cliActor(), action: 'created', detail: `from ${basename(fileOrId)} via the CLI` });
  return alert.id;
}

/** The operating-system user running the CLI, for the audit log. */

export function registerAlertCommands(program: Command): void {
  program
    .command('publish <fileOrId>')
    .description('publish an alert file (stored first as a draft) or a stored alert by id or slug')
    .action((target: string) =>
      withContext(
        async (ctx) => {
          const id = await resolveAlert(ctx, target);
          const result = await publishAlert(ctx, id, cliActor());
          if (result.outcome === 'queued') await ctx.audit.record(id, { actor: cliActor(), action: 'publish-requested', detail: 'via the CLI' });
          print(
            result.outcome === 'queued'
              ? `Publishing ${result.alert.slug} (${result.alert.id}). Follow it with: tocsin status ${result.alert.id}`
              : result.message,
          );
        },
        { publishes: true },
      ).catch(fail),
    );

  const alerts = program.command('alerts').description('create, list and show alerts');
  alerts
    .command('create <file>')
    .description('validate an alert file (Markdown with front matter, or JSON) and store it as a draft')
    .action((file: string) =>
      withContext(async (ctx) => {
        const input = parseAlertFile(basename(file), readFileSync(file, 'utf8'));
        const alert = await ctx.alerts.create(newAlert(input, new Date(), cliActor()));
        await ctx.audit.record(alert.id, { actor: cliActor(), action: 'created', detail: `from ${basename(file)} via the CLI` });
        print(`Stored draft ${alert.slug} (${alert.id}).`);
      }).catch(fail),
    );
  alerts
    .command('check <file>')
    .description('validate an alert file without storing it')
    .action((file: string) => {
      try {
        const input = parseAlertFile(basename(file), readFileSync(file, 'utf8'));
        print(`OK: ${input.title} (${input.level ?? 'report'}, ${input.countries.join(', ')})`);
      } catch (err) {
        fail(err);
      }
    });
  alerts
    .command('list')
    .description('newest first')
    .option('--limit <n>', 'how many', '20')
    .action((opts: { limit: string }) =>
      withContext(async (ctx) => {
        for (const a of await ctx.alerts.list({ limit: Number(opts.limit) })) {
          print(`${a.id}  ${a.status.padEnd(10)}  ${(a.level ?? 'report').padEnd(9)}  ${a.countries.join(',').padEnd(6)}  ${a.title}`);
        }
      }).catch(fail),
    );
  alerts
    .command('show <id>')
    .description('print a stored alert as JSON')
    .action((id: string) =>
      withContext(async (ctx) => {
        print(JSON.stringify(await ctx.alerts.require(id), null, 2));
      }).catch(fail),
    );
}
