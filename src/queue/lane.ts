import type { Queue } from 'bullmq';
import { prioritiesAbove, priorityFor } from './queues.js';

/**
 * Whether jobs of a higher priority are waiting on one queue, as this process last saw it. A
 * sending batch asks before every message, so the answer comes from memory: one look-up in Redis
 * (BullMQ's per-priority counts, a ZCOUNT each) at most every `checkMs`, and only while asked.
 */
export class LaneWatch {
  private waiting = new Map<number, number>();
  private checkedAt = 0;
  private looking = false;
  private readonly priorities: number[];

  constructor(
    private readonly queue: Pick<Queue, 'getCountsPerPriority'>,
    private readonly checkMs: number,
  ) {
    this.priorities = prioritiesAbove(priorityFor(null));
  }

  /** True when a job served before `priority` is waiting; starts a fresh look when this one is stale. */
  higherWaiting(priority: number): boolean {
    if (!this.looking && Date.now() - this.checkedAt >= this.checkMs) this.look();
    return prioritiesAbove(priority).some((p) => (this.waiting.get(p) ?? 0) > 0);
  }

  /** After giving way: what was seen is out of date (the waiting job may have been taken). */
  forget(): void {
    this.waiting.clear();
    this.checkedAt = 0;
  }

  private look(): void {
    this.looking = true;
    this.queue
      .getCountsPerPriority(this.priorities)
      .then((counts) => {
        this.waiting = new Map(Object.entries(counts).map(([p, n]) => [Number(p), n]));
        this.checkedAt = Date.now();
      })
      // Redis unreachable: the batch's own sends and ledger writes will say so; keep going.
      .catch(() => {
        this.checkedAt = Date.now();
      })
      .finally(() => {
        this.looking = false;
      });
  }
}
