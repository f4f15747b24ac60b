import { Worker, type Processor, type WorkerOptions } from 'bullmq';
import type { Context } from '../src/context.js';
import type { RetryConfig } from '../src/config/schema.js';
import type { AccountChannel } from '../src/channels/types.js';
import { QUEUE, BACKOFF_TYPE, backoffDelay } from '../src/queue/queues.js';
import { createMailTransport, type MailTransport } from '../src/channels/email/transport.js';
import { createPublishProcessor } from './publish.js';
import { createEmailProcessor } from './email.js';
import { createAccountProcessor } from './account.js';
import { SCHEDULE_QUEUE, createScheduleProcessor } from '../src/publish/schedule.js';
import { startWorkerHooks } from '../src/metrics/worker-hooks.js';
import { warmEmailRendererSoon } from '../src/render/warm-up.js';

export interface RunningWorkers {
  workers: Worker[];
  /** Settles once the email renderer (MJML) is loaded, so the first alert does not pay for it. */
  warmedUp: Promise<void>;
  /** Stops taking jobs and waits for jobs in flight to finish (SIGTERM path). */
  close(): Promise<void>;
}

export interface StartWorkersOptions {
  /** Queue names or patterns (`account-*`); default every queue. */
  queues?: string[];
  transport?: MailTransport;
}

const matches = (name: string, patterns?: string[]) =>
  !patterns || patterns.length === 0 || patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));

/** Starts a BullMQ worker for each selected queue, all with the same options filled in one place. */
export function startWorkers(ctx: Context, accounts: Map<string, AccountChannel>, options: StartWorkersOptions = {}): RunningWorkers {
  const workers: Worker[] = [];
  let transport: MailTransport | undefined;
  const hooks = startWorkerHooks(ctx); // send-latency histogram + status webhooks

  const start = <T>(name: string, processor: Processor<T>, concurrency: number, retry: RetryConfig) => {
    const opts: WorkerOptions = {
      connection: { url: ctx.config.redis.url, maxRetriesPerRequest: null },
      prefix: ctx.keys.queuePrefix,
      concurrency,
      lockDuration: ctx.config.workers.lockDurationMs,
      stalledInterval: ctx.config.workers.stalledIntervalMs,
      // A job whose worker died is taken over, however often; the ledger prevents duplicates.
      maxStalledCount: 1000,
      settings: {
        backoffStrategy: (attemptsMade: number, type?: string, _err?: Error, job?: { id?: string }) =>
          type === BACKOFF_TYPE ? backoffDelay(attemptsMade, retry, job?.id) : 0,
      },
    };
    const worker = new Worker<T>(name, processor, opts);
    worker.on('failed', (job, err) => ctx.log.warn({ queue: name, job: job?.id, attempts: job?.attemptsMade, err: err.message }, 'job attempt failed'));
    worker.on('error', (err) => ctx.log.error({ queue: name, err: err.message }, 'worker error'));
    workers.push(worker);
    return worker;
  };

  if (matches(QUEUE.publish, options.queues)) start(QUEUE.publish, createPublishProcessor(ctx, accounts), 2, ctx.config.retry);
  // Scheduled publishes: delayed jobs that publish an alert at the time staff chose.
  if (matches(SCHEDULE_QUEUE, options.queues)) start(SCHEDULE_QUEUE, createScheduleProcessor(ctx), 1, ctx.config.retry);
  if (matches(QUEUE.email, options.queues) && ctx.config.email.enabled) {
    transport = options.transport ?? createMailTransport(ctx.config.email);
    start(QUEUE.email, createEmailProcessor(ctx, hooks.transport(transport)), ctx.config.email.concurrency, ctx.config.email.retry);
  }
  for (const [channel, adapter] of accounts) {
    const name = QUEUE.account(channel);
    if (!matches(name, options.queues)) continue;
    let worker: Worker | undefined;
    const concurrency = ctx.config.social.find((s) => s.id === channel)?.concurrency ?? 1;
    worker = start(
      name,
      createAccountProcessor(ctx, hooks.adapter(adapter), () => worker),
      concurrency,
      ctx.config.retry,
    );
  }

  // The publish worker renders each alert's email; load MJML now rather than on the first alert.
  const warmedUp = matches(QUEUE.publish, options.queues)
    ? warmEmailRendererSoon(ctx.config, (err) => ctx.log.warn({ err: err.message }, 'could not warm up the email renderer'))
    : Promise.resolve();

  return {
    workers,
    warmedUp,
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await hooks.stop();
      if (!options.transport) transport?.close();
      await Promise.all([...accounts.values()].map((a) => a.close?.()));
    },
  };
}
