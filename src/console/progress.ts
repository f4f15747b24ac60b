import type { AlertCounts, ChannelCounts } from '../store/ledger.js';
import { EMAIL_CHANNEL } from '../publish/rendered.js';

// Per-channel progress for the alert page and its live stream: what share of deliveries has an
// outcome, how fast outcomes are arriving now, and how long the rest should take at that pace.

export interface ChannelProgress extends ChannelCounts {
  channel: string;
  /** Deliveries with an outcome: sent, failed, unknown or skipped. */
  done: number;
  /** Whole per cent, rounded down, so 100 means every delivery has an outcome. */
  percent: number;
  /** Outcomes per second over the last few seconds; null until measured. */
  rate: number | null;
  /** Seconds left at the current rate; 0 when done; null when unknown. */
  etaSeconds: number | null;
}

export const doneOf = (c: ChannelCounts): number => c.sent + c.failed + c.unknown + c.skipped;

/** Email first, then accounts by name. */
export function channelOrder(a: string, b: string): number {
  if (a === b) return 0;
  if (a === EMAIL_CHANNEL) return -1;
  if (b === EMAIL_CHANNEL) return 1;
  return a.localeCompare(b);
}

export function channelProgress(counts: AlertCounts, meter?: RateMeter): ChannelProgress[] {
  return Object.keys(counts.channels)
    .sort(channelOrder)
    .map((channel) => {
      const c = counts.channels[channel];
      const done = doneOf(c);
      const remaining = Math.max(0, c.total - done);
      const rate = meter?.rate(channel) ?? null;
      return {
        channel,
        ...c,
        done,
        percent: c.total > 0 ? Math.floor((done * 100) / c.total) : 0,
        rate,
        etaSeconds: remaining === 0 ? 0 : rate && rate > 0 ? Math.ceil(remaining / rate) : null,
      };
    });
}

/** Keeps recent (time, outcomes) samples per channel and reports the rate over a sliding window. */
export class RateMeter {
  private readonly samples = new Map<string, Array<{ t: number; done: number }>>();

  constructor(private readonly windowMs = 10_000) {}

  sample(counts: AlertCounts, now = Date.now()): void {
    for (const [channel, c] of Object.entries(counts.channels)) {
      const list = this.samples.get(channel) ?? [];
      list.push({ t: now, done: doneOf(c) });
      // Keep one sample older than the window, so the rate spans the whole window.
      while (list.length > 2 && list[1].t <= now - this.windowMs) list.shift();
      this.samples.set(channel, list);
    }
  }

  rate(channel: string): number | null {
    const list = this.samples.get(channel);
    if (!list || list.length < 2) return null;
    const first = list[0];
    const last = list[list.length - 1];
    const seconds = (last.t - first.t) / 1000;
    if (seconds <= 0) return null;
    return Math.max(0, (last.done - first.done) / seconds);
  }
}

export function formatRate(rate: number | null): string {
  if (rate === null) return 'measuring…';
  if (rate === 0) return 'none right now';
  return rate >= 10 ? `${Math.round(rate)}/s` : `${rate.toFixed(1)}/s`;
}

/** The rate as shown: "finished" once every delivery of the channel has an outcome. */
export function rateText(c: Pick<ChannelProgress, 'done' | 'total' | 'rate'>): string {
  return c.total > 0 && c.done >= c.total ? 'finished' : formatRate(c.rate);
}

export function formatEta(seconds: number | null): string {
  if (seconds === null) return 'unknown';
  if (seconds === 0) return 'done';
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}
