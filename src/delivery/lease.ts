import { performance } from 'node:perf_hooks';

// A job's lease on its BullMQ lock, kept by the worker itself so that it knows, before every
// send, whether it still holds the job. BullMQ's own renewal runs on a timer and only reports a
// failure after the fact; a worker frozen past its lock (SIGSTOP, GC pause, a VM migration) wakes
// up believing it still owns the job and keeps sending what it had in memory. Here:
//   - each renewal records the time it was *requested*; the lock in Redis expires lockDuration
//     after the server ran it, which is later, so `validUntil = requestedAt + lockDuration - margin`
//     always ends before any other worker can take the job over;
//   - `valid()` compares with both the wall clock and the monotonic clock, so a frozen process sees
//     at once, on waking, that its lease ran out, before its own timers have had a chance to run;
//   - a renewal the server refuses (the lock belongs to someone else) ends the lease at once.
// The ledger's fencing token (the attempt's lock token) is the backstop in Redis for the rest.

export class LeaseLost extends Error {
  constructor(reason: string) {
    super(`lost the job's lock: ${reason}`);
    this.name = 'LeaseLost';
  }
}

export interface LeaseHolder {
  /** BullMQ's extendLock for this job and token; resolves to 1 when the lock was extended. */
  extend(durationMs: number): Promise<unknown>;
}

export interface LeaseOptions {
  lockDurationMs: number;
  /** When the lock was taken (job.processedOn), by this process's clock. */
  acquiredAt: number;
  onLost?(reason: string): void;
}

export class JobLease {
  private readonly controller = new AbortController();
  private wallUntil: number;
  private monoUntil: number;
  private renewTimer?: NodeJS.Timeout;
  private expiryTimer?: NodeJS.Timeout;
  private stopped = false;
  private readonly margin: number;

  constructor(
    private readonly holder: LeaseHolder,
    private readonly options: LeaseOptions,
  ) {
    this.margin = Math.floor(options.lockDurationMs / 4);
    const age = Math.max(0, Date.now() - options.acquiredAt);
    this.wallUntil = options.acquiredAt + options.lockDurationMs - this.margin;
    this.monoUntil = performance.now() - age + options.lockDurationMs - this.margin;
    this.armExpiry();
    this.scheduleRenewal();
  }

  /** Aborted when the lease is lost: in-flight requests stop, and nothing new starts. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  valid(): boolean {
    if (this.controller.signal.aborted) return false;
    if (Date.now() < this.wallUntil && performance.now() < this.monoUntil) return true;
    this.lose('the lease ran out before it could be renewed (the process was paused or overloaded)');
    return false;
  }

  /** Throws LeaseLost unless the lease is valid. Call before every send. */
  assertValid(): void {
    if (!this.valid()) throw this.controller.signal.reason instanceof LeaseLost ? this.controller.signal.reason : new LeaseLost('lease ended');
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.renewTimer);
    clearTimeout(this.expiryTimer);
  }

  private lose(reason: string): void {
    if (this.controller.signal.aborted) return;
    this.stop();
    this.controller.abort(new LeaseLost(reason));
    this.options.onLost?.(reason);
  }

  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(() => this.valid(), Math.max(0, this.wallUntil - Date.now()));
  }

  private scheduleRenewal(): void {
    // Renew at a third of the lock's duration: two renewals may fail or be slow before it runs out.
    this.renewTimer = setTimeout(() => void this.renew(), Math.floor(this.options.lockDurationMs / 3));
  }

  private async renew(): Promise<void> {
    if (this.stopped || !this.valid()) return;
    const requestedWall = Date.now();
    const requestedMono = performance.now();
    try {
      const extended = await this.holder.extend(this.options.lockDurationMs);
      if (this.stopped) return;
      if (!extended) return this.lose('another worker holds the lock now');
      this.wallUntil = requestedWall + this.options.lockDurationMs - this.margin;
      this.monoUntil = requestedMono + this.options.lockDurationMs - this.margin;
      this.armExpiry();
    } catch (err) {
      // Redis unreachable: keep the current lease; it runs out by itself if this goes on.
      if (this.stopped) return;
      void err;
    }
    this.scheduleRenewal();
  }
}
