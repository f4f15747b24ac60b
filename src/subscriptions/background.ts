import type { Logger } from '../log.js';

/**
 * Work done after the HTTP response has gone: the subscribe endpoint answers before it looks the
 * address up, so neither its response nor its timing depends on whether the address is known.
 * Bounded: beyond `maxBacklog` waiting tasks new ones are dropped (and logged), so a flood costs
 * memory in proportion to the limit, not to the flood.
 */
export class BackgroundTasks {
  private readonly waiting: Array<() => Promise<void>> = [];
  private running = 0;
  private idle: Array<() => void> = [];

  constructor(
    private readonly log: Logger,
    private readonly maxBacklog: number,
    private readonly concurrency = 4,
  ) {}

  /** Queues a task; returns false when the backlog is full and the task was dropped. */
  add(task: () => Promise<void>): boolean {
    if (this.waiting.length >= this.maxBacklog) {
      this.log.warn({ backlog: this.waiting.length }, 'subscription backlog full; request dropped');
      return false;
    }
    this.waiting.push(task);
    setImmediate(() => this.pump());
    return true;
  }

  get pending(): number {
    return this.waiting.length + this.running;
  }

  private pump(): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const task = this.waiting.shift()!;
      this.running++;
      task()
        .catch((err: Error) => this.log.error({ err: err.message }, 'background subscription task failed'))
        .finally(() => {
          this.running--;
          if (this.pending === 0) for (const resolve of this.idle.splice(0)) resolve();
          else this.pump();
        });
    }
  }

  /** Resolves once every queued task has finished (server shutdown, tests). */
  drain(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }
}
