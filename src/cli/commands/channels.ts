import { readFileSync, existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import type { Context } from '../../context.js';
import type { Alert } from '../../domain/alert.js';
import { newAlert } from '../../domain/alert.js';
import { parseAlertFile } from '../../domain/parse.js';
import { createAccountChannels } from '../../channels/accounts.js';
import { renderPreview } from '../../publish/preview.js';
import { checkChannels } from '../../channels/check.js';
import { withContext, fail, print } from '../runtime.js';

async function loadAlert(ctx: Context, fileOrId: string): Promise<Alert> {
  if (!existsSync(fileOrId)) return ctx.alerts.require(fileOrId);
  return newAlert(parseAlertFile(basename(fileOrId), readFileSync(fileOrId, 'utf8')));
}

export function registerChannelCommands(program: Command): void {
  program
    .command('render <fileOrId>')
    .description('print exactly what a channel would send, part by part, with each length against its limit')
    .requiredOption('--channel <name>', '"email" or an account id from the configuration')
    .option('--html', 'for email: print the HTML part instead of the text part')
    .action((target: string, opts: { channel: string; html?: boolean }) =>
      withContext(async (ctx) => {
        const alert = await loadAlert(ctx, target);
        const preview = await renderPreview(ctx, await createAccountChannels(ctx), alert, opts.channel);
        if (preview.kind === 'email') {
          print(`Subject: ${preview.email.subject}`);
          print('');
          print(opts.html ? preview.email.html : preview.email.text);
          return;
        }
        const parts = preview.message.parts;
        parts.forEach((part, i) => {
          const over = part.length > part.limit ? '  OVER THE LIMIT' : '';
          print(
            `--- part ${i + 1}/${parts.length} (${preview.message.provider}): ${part.length}/${part.limit}${over}${part.media ? `  [image: ${part.media.alt}]` : ''}`,
          );
          print(part.text);
        });
      }).catch(fail),
    );

  const channels = program.command('channels').description('configured accounts and their health');
  channels
    .command('list')
    .description('every configured channel and its queue')
    .action(() =>
      withContext(async (ctx) => {
        print(`email      ${ctx.config.email.enabled ? (ctx.config.email.smtpUrl ? 'SMTP' : `outbox ${ctx.config.email.outboxDir}`) : 'disabled'}`);
        for (const [id, channel] of await createAccountChannels(ctx))
          print(`${id.padEnd(10)} ${ctx.providers.get(channel.provider)?.label ?? channel.provider}  (queue account-${id})`);
      }).catch(fail),
    );
  channels
    .command('check')
    .description("verify every account's credentials with its provider; report expiries and missing permissions")
    .action(() =>
      withContext(async (ctx) => {
        const results = await checkChannels(ctx, await createAccountChannels(ctx));
        for (const { channel, provider, report } of results) {
          const extra = [
            report.expiresAt ? `expires ${report.expiresAt}` : '',
            report.missingPermissions?.length ? `missing ${report.missingPermissions.join(', ')}` : '',
          ]
            .filter(Boolean)
            .join('; ');
          print(`${report.ok ? 'ok  ' : 'FAIL'}  ${channel.padEnd(16)} ${provider.padEnd(9)} ${report.detail}${extra ? ` (${extra})` : ''}`);
        }
        const bad = results.filter((r) => !r.report.ok).length;
        if (bad > 0) process.exitCode = 1;
      }).catch(fail),
    );
}
