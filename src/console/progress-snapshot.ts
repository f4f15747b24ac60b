import type { Context } from '../context.js';
import { channelProgress, formatEta, rateText, type RateMeter } from './progress.js';

// One live-progress event: the alert's delivery counts read from the ledger, which are the truth.
// Stream events only say "something changed", so a missed event loses nothing.

export interface ProgressEvent {
  alertId: string;
  status: string;
  complete: boolean;
  publication: { state: string; recipients: number; batches: number };
  counts: Awaited<ReturnType<Context['ledger']['counts']>>;
  channels: Array<ReturnType<typeof channelProgress>[number] & { rateText: string; etaText: string }>;
  at: number;
}

export async function progressSnapshot(ctx: Context, alertId: string, meter: RateMeter): Promise<ProgressEvent> {
  const [alert, counts, publication] = await Promise.all([ctx.alerts.get(alertId), ctx.ledger.counts(alertId), ctx.publications.get(alertId)]);
  meter.sample(counts);
  return {
    alertId,
    status: alert?.status ?? 'missing',
    complete: publication.state === 'fanned-out' && counts.outstanding === 0,
    publication: { state: publication.state, recipients: publication.recipients, batches: publication.batches },
    counts,
    channels: channelProgress(counts, meter).map((c) => ({ ...c, rateText: rateText(c), etaText: formatEta(c.etaSeconds) })),
    at: Date.now(),
  };
}
