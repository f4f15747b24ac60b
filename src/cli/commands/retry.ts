import type { Command } from 'commander';
import { cliActor } from '../../config/environment.js';
import type { Context } from '../../context.js';
import { errors } from '../../errors.js';
import { retryFailed, type RetryResult } from '../../publish/retry.js';
import { withContext, fail, print } from '../runtime.js';

/** Re-queues the failed deliveries of one alert; the channel, when given, must be one the alert used. */
export async function retryAlert(ctx: Context, idOrSlug: string, channel?: string): Promise<{ alertId: string; result: RetryResult; unknown: number }> {
  const alert = await ctx.alerts.require(idOrSlug);
  const channels = await ctx.ledger.channels(alert.id);
  if (channel !== undefined && !channels.includes(channel)) throw errors.ALERT_CHANNEL_UNKNOWN(alert.slug, channel, channels.join(', ') || 'none');
  const result = await retryFailed(ctx, alert.id, channel);
  const counts = await ctx.ledger.counts(alert.id);
  const unknown = channel ? (counts.channels[channel]?.unknown ?? 0) : counts.totals.unknown;
  return { alertId: alert.id, result, unknown };
}

export function formatRetry(slug: string, { result, unknown }: { result: RetryResult; unknown: number }, channel?: string): string {
  const scope = channel ? ` on ${channel}` : '';
  const entries = Object.entries(result.requeued).sort(([a], [b]) => a.localeCompare(b));
  const lines =
    entries.length === 0
      ? [`Nothing to retry: ${slug} has no failed deliveries${scope}.`]
      : [
          `Requeued the failed deliveries of ${slug} (${result.jobs} job${result.jobs === 1 ? '' : 's'}):`,
          ...entries.map(([ch, n]) => `  ${ch.padEnd(16)} ${n} requeued`),
          'Sent deliveries are not touched. Follow progress with `tocsin status <id> --watch`.',
        ];
  // Unknown outcomes may have reached the recipient; they are never re-sent without a person deciding.
  if (unknown > 0)
    lines.push(
      `${unknown} deliver${unknown === 1 ? 'y has an' : 'ies have an'} unknown outcome${scope} and ${unknown === 1 ? 'was' : 'were'} not retried: check the provider, then resolve ${unknown === 1 ? 'it' : 'them'} in the console.`,
    );
  return lines.join('\n');
}

export function registerRetryCommand(program: Command): void {
  program
    .command('retry <id>')
    .description('re-queue only the failed deliveries of an alert (sent ones are never touched)')
    .option('--channel <name>', 'only this channel, e.g. "email" or an account id')
    .option('--json', 'print what was requeued as JSON')
    .action((id: string, opts: { channel?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const outcome = await retryAlert(ctx, id, opts.channel);
        const alert = await ctx.alerts.require(outcome.alertId);
        if (outcome.result.jobs > 0) {
          const detail = Object.entries(outcome.result.requeued)
            .map(([ch, n]) => `${ch}: ${n}`)
            .join(', ');
          await ctx.audit.record(alert.id, { actor: cliActor(), action: 'retried', detail: `${detail} via the CLI` });
        }
        print(opts.json ? JSON.stringify({ alert: alert.id, ...outcome.result, unknown: outcome.unknown }) : formatRetry(alert.slug, outcome, opts.channel));
      }).catch(fail),
    );
}
