import { Worker, type Job, type MinimalJob, type WorkerOptions } from 'bullmq';
import type { Context } from '../src/context.js';
import type { Messenger } from '../src/channels/messenger.js';
import { BACKOFF_TYPE, backoffDelay, retryFor } from '../src/queue/queues.js';
import { QUEUE, type JobKind, type JobOf, type TocsinJob } from '../src/queue/jobs.js';

export type { Attempt, Processor } from '../src/queue/attempt.js';
import { createMailTransport, type MailTransport } from '../src/channels/email/transport.js';
import { JobLease } from '../src/delivery/lease.js';
import type { Processor, Processors } from '../src/queue/attempt.js';
import { createPublishProcessor } from './publish.js';
import { createEmailProcessor } from './email.js';
import { createAccountProcessor } from './account.js';
import { createFollowUpProcessor } from './follow-up.js';
import { createScheduleProcessor } from '../src/publish/schedule.js';
import { startWorkerHooks } from '../src/metrics/worker-hooks.js';
import { bullConnection, redisTarget } from '../src/store/redis.js';
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
export function startWorkers(ctx: Context, accounts: Map<string, Messenger>, options: StartWorkersOptions = {}): RunningWorkers {
  const workers: Worker[] = [];
  const hooks = startWorkerHooks(ctx); // send-latency histogram + status webhooks
  let transport: MailTransport | undefined;
  const lockDurationMs = ctx.config.workers.lockDurationMs;
  // One connection for every worker's commands (BullMQ adds a blocking one per worker).
  const bull = bullConnection(redisTarget(ctx.config.redis));

  const processors: Processors = {
    publish: createPublishProcessor(ctx, accounts),
    'scheduled-publish': createScheduleProcessor(ctx),
    'follow-up': createFollowUpProcessor(ctx, accounts),
    'account-post': createAccountProcessor(ctx, accounts, hooks),
  };

  const start = (name: string, concurrency: number) => {
    const opts: WorkerOptions = {
      connection: bull.connection,
      prefix: ctx.keys.queuePrefixFor(name),
      concurrency,
      lockDuration: lockDurationMs,
      stalledInterval: ctx.config.workers.stalledIntervalMs,
      // Each job's lease renews its own lock and knows when it is lost (src/delivery/lease.ts).
      skipLockRenewal: true,
      // A job whose worker died is taken over, however often; the ledger prevents duplicates.
      maxStalledCount: ctx.config.workers.maxStalledCount,
      settings: {
        backoffStrategy: (attemptsMade: number, type?: string, _err?: Error, job?: MinimalJob) =>
          type === BACKOFF_TYPE && job ? backoffDelay(attemptsMade, retryFor(ctx.config, (job.data as TocsinJob).kind), job.id) : 0,
      },
    };
    const worker: Worker = new Worker<TocsinJob>(
      name,
      async (job, token) => {
        const processor = processors[job.data.kind] as Processor<JobKind> | undefined;
        if (!processor) throw new Error(`no processor for jobs of kind "${job.data.kind}" on queue ${name}`);
        const lease = new JobLease(
          { extend: (ms) => job.extendLock(token as string, ms) },
          {
            lockDurationMs,
            acquiredAt: job.processedOn ?? Date.now(),
            onLost: (reason) => ctx.log.warn({ queue: name, job: job.id, reason }, 'lost the lock of a job; stopping its sends'),
          },
        );
        try {
          return await processor({ job: job as Job<JobOf<JobKind>>, token: token as string, lease, worker });
        } finally {
          lease.stop();
        }
      },
      opts,
    );
    worker.on('failed', (job, err) => ctx.log.warn({ queue: name, job: job?.id, attempts: job?.attemptsMade, err: err.message }, 'job attempt failed'));
    worker.on('error', (err) => ctx.log.error({ queue: name, err: err.message }, 'worker error'));
    workers.push(worker);
  };

  if (matches(QUEUE.publish, options.queues)) start(QUEUE.publish, ctx.config.workers.publishConcurrency);
  if (matches(QUEUE.schedule, options.queues)) start(QUEUE.schedule, 1);
  if (matches(QUEUE.email, options.queues) && ctx.config.email.enabled) {
    transport = options.transport ?? createMailTransport(ctx.config.email);
    processors['email-batch'] = createEmailProcessor(ctx, hooks.transport(transport));
    start(QUEUE.email, ctx.config.email.concurrency);
  }
  for (const channel of accounts.keys()) {
    const name = QUEUE.account(channel);
    if (matches(name, options.queues)) start(name, ctx.config.social.find((s) => s.id === channel)?.concurrency ?? 1);
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
      for (const owned of bull.owned) owned.disconnect();
      await hooks.stop();
      if (!options.transport) transport?.close();
      await Promise.all([...accounts.values()].map((a) => a.close?.() ?? Promise.resolve()));
    },
  };
}
