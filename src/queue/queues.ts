import { createHash } from 'node:crypto';
import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import type { Config, RetryConfig } from '../config/schema.js';
import type { Keys } from '../store/keys.js';
import type { AccountPostJob, EmailBatchJob, PublishJob } from './jobs.js';

export const QUEUE = {
  publish: 'publish',
  email: 'email',
  /** One queue per account, so each has its own limiter, concurrency and pause. */
  account: (channel: string) => `account-${channel}`,
} as const;

export const BACKOFF_TYPE = 'tocsin-capped';

/**
 * Capped exponential backoff with ±20% jitter: base, 2·base, 4·base, ... up to max. The jitter is
 * derived from the job id, so the worker can tell the ledger the same retry time BullMQ will use.
 */
export function backoffDelay(attemptsMade: number, retry: RetryConfig, jobId = ''): number {
  const exp = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** Math.max(0, attemptsMade - 1));
  const jitter = (createHash('sha1').update(`${jobId}:${attemptsMade}`).digest().readUInt16BE(0) / 0xffff) * 0.4;
  return Math.round(exp * (0.8 + jitter));
}

export function jobDefaults(retry: RetryConfig): JobsOptions {
  return {
    attempts: retry.maxAttempts,
    backoff: { type: BACKOFF_TYPE },
    // Completed jobs stay a week so a re-added deterministic id is recognised, not re-run.
    removeOnComplete: { age: 7 * 24 * 3600, count: 100_000 },
    removeOnFail: { age: 30 * 24 * 3600 },
  };
}

/** The producer side of every queue, opened lazily and closed together. */
export class Queues {
  private readonly open = new Map<string, Queue>();

  constructor(
    private readonly connection: ConnectionOptions,
    private readonly keys: Keys,
    private readonly config: Config,
  ) {}

  get(name: string): Queue {
    let queue = this.open.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.keys.queuePrefix });
      queue.on('error', () => {
        /* surfaced by the failing call */
      });
      // A queue closed before it finished connecting rejects this; nothing is waiting on it.
      queue.waitUntilReady().catch(() => {});
      this.open.set(name, queue);
    }
    return queue;
  }

  addPublish(job: PublishJob, jobId: string, delayMs = 0) {
    return this.get(QUEUE.publish).add(job.kind, job, { ...jobDefaults(this.config.retry), jobId, delay: delayMs });
  }

  addEmailBatch(job: EmailBatchJob, jobId: string) {
    return this.get(QUEUE.email).add(job.kind, job, { ...jobDefaults(this.config.email.retry), jobId });
  }

  addEmailBatches(jobs: Array<{ job: EmailBatchJob; jobId: string }>) {
    return this.get(QUEUE.email).addBulk(
      jobs.map(({ job, jobId }) => ({ name: job.kind, data: job, opts: { ...jobDefaults(this.config.email.retry), jobId } })),
    );
  }

  addAccountPost(job: AccountPostJob, jobId: string) {
    return this.get(QUEUE.account(job.channel)).add(job.kind, job, { ...jobDefaults(this.config.retry), jobId });
  }

  async close(): Promise<void> {
    await Promise.all([...this.open.values()].map((q) => q.close()));
    this.open.clear();
  }
}
