import type { Job, Worker } from 'bullmq';
import type { JobKind, JobOf } from './jobs.js';
import type { JobLease } from '../delivery/lease.js';

/** What every processor gets: the job, and the lease it must check before each send. */
export interface Attempt<K extends JobKind> {
  job: Job<JobOf<K>>;
  /** BullMQ's lock token: unique to this processing attempt, the fencing token in the ledger. */
  token: string;
  lease: JobLease;
  /** The BullMQ worker running it (a rate limit holds its whole queue). */
  worker: Worker;
}

export type Processor<K extends JobKind> = (attempt: Attempt<K>) => Promise<unknown>;

/** The processors a worker process runs, keyed by job kind (workers/run.ts). */
export type Processors = { [K in JobKind]?: Processor<K> };
