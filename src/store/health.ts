import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import type { HealthReport } from '../channels/messenger.js';

/** What staff see on the channel health page: last check and the run of recent failures. */
export interface ChannelHealth {
  lastCheck?: HealthReport;
  lastSuccessAt?: string;
  lastFailureAt?: string;
  lastError?: string;
  consecutiveFailures: number;
  /** Sending is paused by the circuit breaker until then (email: the SMTP relay keeps timing out). */
  pausedUntil?: string;
  pauseReason?: string;
}

export class HealthStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async all(): Promise<Record<string, ChannelHealth>> {
    const raw = await this.redis.hgetall(this.keys.channelHealth());
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, JSON.parse(v) as ChannelHealth]));
  }

  async get(channel: string): Promise<ChannelHealth> {
    const raw = await this.redis.hget(this.keys.channelHealth(), channel);
    return raw ? (JSON.parse(raw) as ChannelHealth) : { consecutiveFailures: 0 };
  }

  private async update(channel: string, change: (h: ChannelHealth) => ChannelHealth): Promise<void> {
    // Last writer wins: health is advisory, and every writer starts from a fresh read.
    const next = change(await this.get(channel));
    await this.redis.hset(this.keys.channelHealth(), channel, JSON.stringify(next));
  }

  recordDelivery(channel: string, ok: boolean, error?: string): Promise<void> {
    const now = new Date().toISOString();
    return this.update(channel, (h) =>
      ok
        ? { ...h, lastSuccessAt: now, consecutiveFailures: 0, pausedUntil: undefined, pauseReason: undefined }
        : { ...h, lastFailureAt: now, lastError: error, consecutiveFailures: h.consecutiveFailures + 1 },
    );
  }

  /** The circuit breaker paused this channel: counts as `failures` more in a row, and says until when. */
  recordPause(channel: string, failures: number, until: Date, reason: string): Promise<void> {
    const now = new Date().toISOString();
    return this.update(channel, (h) => ({
      ...h,
      lastFailureAt: now,
      lastError: reason,
      consecutiveFailures: h.consecutiveFailures + failures,
      pausedUntil: until.toISOString(),
      pauseReason: reason,
    }));
  }

  recordCheck(channel: string, report: HealthReport): Promise<void> {
    return this.update(channel, (h) => ({ ...h, lastCheck: report, ...(report.ok ? { lastSuccessAt: report.checkedAt } : {}) }));
  }
}
