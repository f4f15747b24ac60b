import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { createContext } from '../../context.js';
import { createAccountChannels } from '../../channels/accounts.js';
import { describeTarget, redisTarget } from '../../store/redis.js';
import { fail } from '../runtime.js';
import { errors } from '../../errors.js';

type Role = { api: boolean; workers: boolean; queues?: string[] };

/**
 * `start` (API + every worker), `api`, and `worker --queues ...`. SIGTERM or SIGINT drains
 * in-flight work and exits; a second signal exits at once. Signals are handled from the first
 * line: one that arrives while the process starts stops it as soon as what has started can be
 * closed, instead of killing it halfway (Node's default) or being missed.
 */
async function serve(role: Role): Promise<void> {
  let requested: NodeJS.Signals | undefined;
  // Set once the process has started; a signal before that only records itself in `requested`.
  let stop: ((signal: NodeJS.Signals) => Promise<void>) | undefined = undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (requested) {
      // The drain can wait on Redis or a provider that no longer answers; a person or a
      // supervisor asking twice gets the process gone now. Jobs it held are taken over after
      // workers.lockDurationMs, and the ledger keeps anyone already sent from being sent again.
      process.stderr.write(`tocsin: second ${signal}: exiting without waiting for jobs in flight\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    requested = signal;
    void stop?.(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const config = loadConfig();
  const ctx = await createContext(config);
  const log = ctx.log;
  // Every role publishes: the API appends version 1 before queuing, workers append follow-ups.
  if (ctx.signing.problem) {
    await ctx.close();
    throw errors.SIGNING_KEY_MISSING(ctx.signing.problem);
  }
  if (!ctx.signing.enabled) log.warn('signing.enabled is false: published alerts are NOT signed, and nobody can tell them from forgeries.');
  if (ctx.signing.development)
    log.warn(
      `SIGNING WITH A DEVELOPMENT KEY: ${config.signing.signingKeyEnv} / ${config.signing.capSigningKeyEnv} are not set, so keys were generated once and kept in Redis (allowed only because http.publicUrl ${config.http.publicUrl} is a loopback address). Run \`tocsin keys generate\` and set them before going public.`,
    );
  log.info({ redis: describeTarget(redisTarget(config.redis)), prefix: config.redis.prefix }, 'connected to Redis');
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
  const workers = role.workers && !requested ? startWorkers(ctx, accounts, { queues: role.queues }) : undefined;
  if (workers) log.info({ queues: workers.workers.map((w) => w.name) }, 'workers started');
  const app = role.api && !requested ? await buildServer(ctx, { plugins: serverPlugins(accounts) }) : undefined;
  if (app && !requested) {
    await app.listen({ port: ctx.config.http.port, host: ctx.config.http.host });
    log.info(`Tocsin is listening on http://${ctx.config.http.host}:${ctx.config.http.port} (public URL ${ctx.config.http.publicUrl})`);
  }

  stop = async (signal: NodeJS.Signals) => {
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
  if (requested) await stop(requested);
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
