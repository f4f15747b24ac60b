import { createHash } from 'node:crypto';
import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import type { Config, RetryConfig } from '../config/schema.js';
import type { Keys } from '../store/keys.js';
import { LEVELS, levelRank, type Level } from '../domain/alert.js';
import { queueOf, type TocsinJob } from './jobs.js';

export { QUEUE } from './jobs.js';

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

/** The retry policy of each kind of job: email has its own (a mail outage lasts hours). */
export function retryFor(config: Config, kind: TocsinJob['kind']): RetryConfig {
  return kind === 'email-batch' ? config.email.retry : config.retry;
}

export function jobDefaults(retry: RetryConfig, keep: Config['queues']): JobsOptions {
  return {
    attempts: retry.maxAttempts,
    backoff: { type: BACKOFF_TYPE },
    // Completed jobs stay a while so a re-added deterministic id is recognised, not re-run.
    removeOnComplete: { age: keep.keepCompletedS, count: keep.keepCompletedCount },
    removeOnFail: { age: keep.keepFailedS },
  };
}

/**
 * The emergency lane: a job's BullMQ priority comes from its alert's level, here and nowhere else.
 * 1 is served first. Every job gets one, because BullMQ serves jobs without a priority before all
 * prioritized ones. Emergency 1, warning 2, watch 3, a report or update (no level) 4.
 */
export function priorityFor(level: Level | null | undefined): number {
  return LEVELS.length - levelRank(level ?? null);
}

/** The priorities served before `priority` (empty for an emergency). */
export const prioritiesAbove = (priority: number): number[] => Array.from({ length: Math.max(0, priority - 1) }, (_, i) => i + 1);

export interface AddOptions {
  /** The alert's level, which sets the job's priority (emergency first). */
  level: Level | null | undefined;
  /** For scheduled publishing. */
  delayMs?: number;
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
      queue = new Queue(name, { connection: this.connection, prefix: this.keys.queuePrefixFor(name) });
      queue.on('error', () => {
        /* surfaced by the failing call */
      });
      // A queue closed before it finished connecting rejects this; nothing is waiting on it.
      queue.waitUntilReady().catch(() => {});
      this.open.set(name, queue);
    }
    return queue;
  }

  /** Adds any job to its queue with its kind's defaults and its alert level's priority. */
  add(job: TocsinJob, jobId: string, options: AddOptions) {
    const defaults = jobDefaults(retryFor(this.config, job.kind), this.config.queues);
    return this.get(queueOf(job)).add(job.kind, job, {
      ...defaults,
      jobId,
      priority: priorityFor(options.level),
      ...(options.delayMs ? { delay: options.delayMs } : {}),
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.open.values()].map((q) => q.close()));
    this.open.clear();
  }
}
