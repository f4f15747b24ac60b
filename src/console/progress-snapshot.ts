import type { Context } from '../context.js';
import type { VersionKind } from '../store/versions.js';
import { parseDeliveryChannel } from '../delivery/delivery-channel.js';
import { channelProgress, formatEta, rateText, type RateMeter } from './progress.js';
import { deliveriesComplete, fanOuts, versionHeading, versionKind } from './fan-outs.js';

// One live-progress event: the alert's delivery counts read from the ledger, which are the truth.
// Stream events only say "something changed", so a missed event loses nothing. A follow-up's
// channels ("email@v2") carry their version, so a page can show "Version 2 (correction)" progress.

export interface ProgressEvent {
  alertId: string;
  status: string;
  complete: boolean;
  publication: { state: string; recipients: number; batches: number };
  /** Set while the alert is halted: who, when, why. */
  halt: { by: string; at: string; reason: string } | null;
  counts: Awaited<ReturnType<Context['ledger']['counts']>>;
  channels: Array<
    ReturnType<typeof channelProgress>[number] & {
      rateText: string;
      etaText: string;
      /** The channel without its version suffix ("email" for "email@v2"). */
      base: string;
      version: number;
      kind: VersionKind;
      /** "Version 2 (correction)". */
      versionLabel: string;
    }
  >;
  at: number;
}

export async function progressSnapshot(ctx: Context, alertId: string, meter: RateMeter): Promise<ProgressEvent> {
  const [alert, counts, fans] = await Promise.all([ctx.alerts.get(alertId), ctx.ledger.counts(alertId), fanOuts(ctx, alertId)]);
  meter.sample(counts);
  const status = alert?.status ?? 'missing';
  const { publication, halt } = fans;
  return {
    alertId,
    status,
    complete: deliveriesComplete(fans, counts),
    publication: { state: publication.state, recipients: publication.recipients, batches: publication.batches },
    halt: halt ? { by: halt.by, at: halt.at, reason: halt.reason } : null,
    counts,
    channels: channelProgress(counts, meter).map((c) => {
      const { channel: base, version } = parseDeliveryChannel(c.channel);
      const kind = versionKind(version, fans.versionCount, status);
      return { ...c, rateText: rateText(c), etaText: formatEta(c.etaSeconds), base, version, kind, versionLabel: versionHeading(version, kind) };
    }),
    at: Date.now(),
  };
}
