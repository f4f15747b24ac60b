import type { Command } from 'commander';
import { alertStatus } from '../../publish/status.js';
import { withContext, fail, print } from '../runtime.js';
import { watchCommand } from './watch.js';
import { formatStatus } from './status-format.js';

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
