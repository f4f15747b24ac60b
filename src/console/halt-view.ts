import type { Context } from '../context.js';
import { parseDeliveryChannel } from '../delivery/delivery-channel.js';
import type { Halt } from '../store/halts.js';
import type { AlertCounts } from '../store/ledger.js';
import { channelOrder } from './progress.js';

// What a halt does and did, per channel, in numbers staff can check: before it, how many
// deliveries wait (they will be skipped) and how many are being sent (they finish); after it, how
// many the halt skipped (they are what a resume sends).

export interface WaitingCounts {
  channel: string;
  /** queued or retrying: skipped by a halt. */
  waiting: number;
  /** being sent right now: finishes and is recorded. */
  sending: number;
}

export function waitingByChannel(counts: AlertCounts): WaitingCounts[] {
  return Object.entries(counts.channels)
    .map(([channel, c]) => ({ channel, waiting: c.queued + c.retrying, sending: c.sending }))
    .filter((c) => c.waiting + c.sending > 0)
    .sort((a, b) => sortByVersion(a.channel, b.channel));
}

/**
 * Deliveries a halt turned into `skipped` (the ledger marks them), per channel. This reads every
 * entry of the halted versions' channels, as a resume does, so it is only done for a halted alert.
 */
export async function haltedByChannel(ctx: Context, alertId: string, halt: Halt): Promise<Array<{ channel: string; skipped: number }>> {
  const out: Array<{ channel: string; skipped: number }> = [];
  for (const channel of await ctx.ledger.channels(alertId)) {
    if (parseDeliveryChannel(channel).version > halt.version) continue;
    let skipped = 0;
    for await (const [, entry] of ctx.ledger.entries(alertId, channel)) if (entry.state === 'skipped' && entry.halted) skipped++;
    if (skipped) out.push({ channel, skipped });
  }
  return out.sort((a, b) => sortByVersion(a.channel, b.channel));
}

/** Version 1's channels first (email first), then version 2's, and so on. */
export function sortByVersion(a: string, b: string): number {
  const x = parseDeliveryChannel(a);
  const y = parseDeliveryChannel(b);
  return x.version - y.version || channelOrder(x.channel, y.channel);
}
