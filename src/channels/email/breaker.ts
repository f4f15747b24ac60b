// A circuit breaker for the SMTP relay, one per worker process. A relay that accepts connections
// and then hangs costs every message its full timeout: five messages a minute, with nothing to
// show for it. After `failuresInARow` connection failures the email queue is paused (for every
// worker, through BullMQ's queue-wide rate limit) for `pauseMs`, doubling while it goes on, and
// the health page and status webhooks say so. One message that gets through closes it.

export interface BreakerConfig {
  failuresInARow: number;
  pauseMs: number;
  maxPauseMs: number;
}

export class SmtpBreaker {
  private failures = 0;
  private opened = 0;

  constructor(private readonly config: BreakerConfig) {}

  get consecutiveFailures(): number {
    return this.failures;
  }

  success(): void {
    this.failures = 0;
    this.opened = 0;
  }

  /** Counts a connection failure; returns the pause to apply when this one opens the breaker. */
  failure(): number | undefined {
    this.failures++;
    if (this.failures < this.config.failuresInARow) return undefined;
    const pause = Math.min(this.config.maxPauseMs, this.config.pauseMs * 2 ** this.opened);
    this.opened++;
    // Half-open after the pause: the next failure opens it again, for longer.
    this.failures = this.config.failuresInARow - 1;
    return pause;
  }
}
