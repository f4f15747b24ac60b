import type { Command } from 'commander';
import { alertStatus, type AlertStatusReport } from '../../publish/status.js';
import { withContext, fail, print } from '../runtime.js';
import { watchCommand } from './watch.js';

export function formatStatus(report: AlertStatusReport): string {
  const lines: string[] = [];
  const { alert, counts, publication } = report;
  const state = report.complete ? 'complete' : publication.state === 'not-started' ? 'not started' : 'in progress';
  lines.push(`${alert.title}`, `${alert.id}  status: ${alert.status}  delivery: ${state}`);
  for (const warning of report.warnings) lines.push(`WARNING: ${warning}`);
  lines.push('');
  lines.push(
    `${'channel'.padEnd(20)} ${['total', 'sent', 'failed', 'unknown', 'skipped', 'queued', 'sending', 'retrying'].map((h) => h.padStart(9)).join('')}`,
  );
  const row = (name: string, c: typeof counts.totals) =>
    `${name.padEnd(20)} ${[c.total, c.sent, c.failed, c.unknown, c.skipped, c.queued, c.sending, c.retrying].map((n) => String(n).padStart(9)).join('')}`;
  for (const [channel, c] of Object.entries(counts.channels).sort()) lines.push(row(channel, c));
  lines.push(row('all', counts.totals));
  if (report.problems.length > 0) {
    lines.push('', 'First failures:');
    for (const p of report.problems) lines.push(`  ${p.channel.padEnd(14)} ${p.target.padEnd(28)} ${p.state.padEnd(8)} ${p.error}`);
  }
  return lines.join('\n');
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status <id>')
    .description('per-channel delivery counts for an alert and its first failures')
    .option('--json', 'print the same JSON as GET /api/alerts/:id/status')
    .option('--watch', 'show live progress per channel until every delivery has an outcome; exit 3 if any failed or is unknown')
    .action((id: string, opts: { json?: boolean; watch?: boolean }) =>
      opts.watch
        ? watchCommand(id, opts)
        : withContext(async (ctx) => {
            const report = await alertStatus(ctx, id);
            print(opts.json ? JSON.stringify(report, null, 2) : formatStatus(report));
          }).catch(fail),
    );
  program
    .command('admin-token')
    .description('print the admin API token (the generated one when TOCSIN_ADMIN_TOKEN is not set)')
    .action(() =>
      withContext(async (ctx) => {
        print(ctx.config.secrets.adminToken);
      }).catch(fail),
    );
}
