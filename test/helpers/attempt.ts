import { Worker, type Job } from 'bullmq';
import type { Context } from '../../src/context.js';
import { bullConnection, redisTarget } from '../../src/store/redis.js';
import { JobLease } from '../../src/delivery/lease.js';
import type { Attempt } from '../../src/queue/attempt.js';
import type { JobKind, JobOf } from '../../src/queue/jobs.js';

/**
 * A processing attempt for a job that is already in its queue, to run a processor directly (as a
 * second, concurrent run of the same job would). Its lease renews against nothing and never runs
 * out within a test; its token is new, as a takeover's would be.
 */
export async function attemptOf<K extends JobKind>(
  ctx: Context,
  jobId: string,
  queue = 'publish',
  token = `test-${Math.random().toString(36).slice(2)}`,
): Promise<Attempt<K>> {
  const job = (await ctx.queues.get(queue).getJob(jobId)) as Job<JobOf<K>> | undefined;
  if (!job) throw new Error(`no job ${jobId} on queue ${queue}`);
  const lease = new JobLease({ extend: async () => 1 }, { lockDurationMs: 10 * 60_000, acquiredAt: Date.now() });
  // A worker that never starts: processors only use it to rate-limit their queue.
  const worker = new Worker(queue, null, {
    connection: bullConnection(redisTarget(ctx.config.redis)).connection,
    prefix: ctx.keys.queuePrefixFor(queue),
    autorun: false,
  });
  return { job, token, lease, worker };
}
