import type { AlertStatusReport } from '../../publish/status.js';

// The `tocsin status` table, also printed by `status --watch` when it ends; its own file so the
// two commands do not import each other.
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
