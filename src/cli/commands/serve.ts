import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { createContext } from '../../context.js';
import { createAccountChannels } from '../../channels/accounts.js';
import { redactUrl } from '../../store/redis.js';
import { fail } from '../runtime.js';

type Role = { api: boolean; workers: boolean; queues?: string[] };

/** `start` (API + every worker), `api`, and `worker --queues ...`. SIGTERM drains in-flight work. */
async function serve(role: Role): Promise<void> {
  const config = loadConfig();
  const ctx = await createContext(config);
  const log = ctx.log;
  log.info({ redis: redactUrl(config.redis.url), prefix: config.redis.prefix }, 'connected to Redis');
  if (ctx.secretGenerated)
    log.warn('TOCSIN_SECRET is not set; links are signed with a secret generated once and kept in Redis. Set TOCSIN_SECRET in production.');
  if (ctx.adminTokenGenerated) log.warn('TOCSIN_ADMIN_TOKEN is not set; a token was generated and kept in Redis. Run `tocsin admin-token` to see it.');
  if (role.workers && !config.email.smtpUrl)
    log.warn(`SMTP_URL is not set: alert emails are written to ${config.email.outboxDir}/ as .eml files instead of being sent`);
  const accounts = await createAccountChannels(ctx);
  // Loaded only by the commands that serve, so the other commands start quickly.
  const { startWorkers } = await import('../../../workers/run.js');
  const { buildServer } = await import('../../http/server.js');
  const { serverPlugins } = await import('../../http/plugins.js');
  const workers = role.workers ? startWorkers(ctx, accounts, { queues: role.queues }) : undefined;
  if (workers) log.info({ queues: workers.workers.map((w) => w.name) }, 'workers started');
  const app = role.api ? await buildServer(ctx, { plugins: serverPlugins(accounts) }) : undefined;
  if (app) {
    await app.listen({ port: ctx.config.http.port, host: ctx.config.http.host });
    log.info(`Tocsin is listening on http://${ctx.config.http.host}:${ctx.config.http.port} (public URL ${ctx.config.http.publicUrl})`);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: finishing jobs in flight');
    const force = setTimeout(() => {
      log.error('jobs did not finish within 60 s; exiting. Unfinished jobs are taken over by another worker.');
      process.exit(1);
    }, 60_000);
    force.unref();
    await app?.close();
    await workers?.close();
    await ctx.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

export function registerServeCommands(program: Command): void {
  program
    .command('start')
    .description('run the HTTP server and every worker in one process (the default)')
    .action(() => serve({ api: true, workers: true }).catch(fail));
  program
    .command('api')
    .description('run only the HTTP server')
    .action(() => serve({ api: true, workers: false }).catch(fail));
  program
    .command('worker')
    .description('run only workers; start as many as you like, on as many machines, against one Redis')
    .option('--queues <list>', 'comma-separated queue names or prefixes with *, e.g. "email" or "publish,account-*"')
    .action((opts: { queues?: string }) =>
      serve({
        api: false,
        workers: true,
        queues: opts.queues
          ?.split(',')
          .map((q) => q.trim())
          .filter(Boolean),
      }).catch(fail),
    );
}
