import type { Redis } from 'ioredis';
import type { Keys } from '../store/keys.js';

// Send latency is measured where the send happens (the worker processes) but scraped from the API
// process, possibly on another machine. So each worker adds its samples to one histogram in Redis
// (plain counters, only ever incremented): every scrape sees every worker's sends, and a crash
// loses at most one flush interval of samples. An in-process prom-client histogram would only
// show the sends of the process that happens to be scraped.

/** Upper bounds in seconds: an SMTP hand-off takes milliseconds, a social thread can take a minute. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

/** What one send attempt came to, in the delivery contract's words. */
export type SendResult = 'sent' | 'permanent' | 'transient' | 'rate-limited' | 'unknown';

export interface LatencySeries {
  channel: string;
  result: string;
  /** Cumulative counts per bucket, same order as LATENCY_BUCKETS, then +Inf. */
  buckets: number[];
  sum: number;
  count: number;
}

const bucketLabel = (seconds: number): string => {
  const bound = LATENCY_BUCKETS.find((b) => seconds <= b);
  return bound === undefined ? '+Inf' : String(bound);
};

/** Collects samples in memory and adds them to the shared histogram in Redis every flush interval. */
export class LatencyRecorder {
  private pending = new Map<string, number>();
  private sums = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    flushMs: number,
    private readonly onError: (err: Error) => void = () => {},
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  observe(channel: string, seconds: number, result: SendResult): void {
    const series = `${channel}|${result}`;
    const bump = (field: string) => this.pending.set(field, (this.pending.get(field) ?? 0) + 1);
    bump(`${series}|${bucketLabel(seconds)}`);
    this.sums.set(series, (this.sums.get(series) ?? 0) + seconds);
  }

  /** Writes what was collected since the last flush. Flushes never overlap. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0 && this.sums.size === 0) return;
      const counts = this.pending;
      const sums = this.sums;
      this.pending = new Map();
      this.sums = new Map();
      const key = this.keys.sendLatency();
      const multi = this.redis.multi();
      for (const [field, n] of counts) multi.hincrby(key, field, n);
      for (const [series, s] of sums) multi.hincrbyfloat(key, `${series}|sum`, s);
      try {
        await multi.exec();
      } catch (err) {
        // Keep the samples for the next flush rather than lose them to a Redis blip.
        for (const [field, n] of counts) this.pending.set(field, (this.pending.get(field) ?? 0) + n);
        for (const [series, s] of sums) this.sums.set(series, (this.sums.get(series) ?? 0) + s);
        this.onError(err as Error);
      }
    });
    return this.flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}

/** The shared histogram as cumulative series, ready for exposition. */
export async function readLatency(redis: Redis, keys: Keys): Promise<LatencySeries[]> {
  const raw = await redis.hgetall(keys.sendLatency());
  const bySeries = new Map<string, { perBucket: Map<string, number>; sum: number }>();
  for (const [field, value] of Object.entries(raw)) {
    // Channel ids cannot contain '|', so the last two parts are the result and the bucket.
    const parts = field.split('|');
    if (parts.length < 3) continue;
    const what = parts.pop() as string;
    const series = parts.join('|');
    const entry = bySeries.get(series) ?? { perBucket: new Map(), sum: 0 };
    bySeries.set(series, entry);
    if (what === 'sum') entry.sum = Number(value);
    else entry.perBucket.set(what, Number(value));
  }
  const out: LatencySeries[] = [];
  for (const [series, entry] of [...bySeries].sort(([a], [b]) => a.localeCompare(b))) {
    const [channel, result] = [series.slice(0, series.lastIndexOf('|')), series.slice(series.lastIndexOf('|') + 1)];
    let running = 0;
    const buckets = [...LATENCY_BUCKETS.map(String), '+Inf'].map((label) => (running += entry.perBucket.get(label) ?? 0));
    // The +Inf bucket is the count: both come from the same atomic increments.
    out.push({ channel, result, buckets, sum: entry.sum, count: running });
  }
  return out;
}
