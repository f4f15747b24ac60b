import type { Context } from '../context.js';
import type { AlertStatus } from '../domain/alert.js';
import { deliveryId } from '../delivery/delivery-channel.js';
import type { Halt } from '../store/halts.js';
import type { AlertCounts } from '../store/ledger.js';
import type { PublicationState } from '../store/publications.js';
import type { VersionKind } from '../store/versions.js';
import { canHalt, fanOutOver } from '../publish/halt.js';

// Where each version's fan-out stands (the alert, then each correction or retraction), for the
// alert page and its live stream. "Complete" is the status report's rule (src/publish/status.ts):
// every version's fan-out over, and nothing outstanding.

export interface FanOuts {
  publication: PublicationState;
  followUps: Array<PublicationState & { version: number }>;
  halt: Halt | null;
  versionCount: number;
}

export async function fanOuts(ctx: Context, alertId: string): Promise<FanOuts> {
  const [publication, halt, versionCount] = await Promise.all([ctx.publications.get(alertId), ctx.halts.get(alertId), ctx.versions.count(alertId)]);
  const followUps = await Promise.all(
    Array.from({ length: Math.max(0, versionCount - 1) }, (_, i) => ctx.publications.get(deliveryId(alertId, i + 2)).then((p) => ({ version: i + 2, ...p }))),
  );
  return { publication, followUps, halt, versionCount };
}

export function deliveriesComplete(f: FanOuts, counts: AlertCounts): boolean {
  return fanOutOver(1, f.publication.state, f.halt) && f.followUps.every((p) => fanOutOver(p.version, p.state, f.halt)) && counts.outstanding === 0;
}

/** haltAlert's own test (src/publish/halt.ts): the console offers "Stop sending" only when it would accept. */
export function goingOut(status: AlertStatus, f: FanOuts, counts: AlertCounts): boolean {
  return canHalt({ status, halt: f.halt, latestVersion: f.versionCount, fanOutState: f.publication.state, outstanding: counts.outstanding });
}

/**
 * Which kind a version is, from its number alone: 1 is the original; a retraction is always the
 * last version of a retracted alert (nothing follows it); every other one is a correction.
 */
export function versionKind(version: number, versionCount: number, status: string): VersionKind {
  if (version <= 1) return 'original';
  return status === 'retracted' && version === versionCount ? 'retraction' : 'correction';
}

/** "Version 2 (correction)". */
export const versionHeading = (version: number, kind: VersionKind): string => `Version ${version} (${kind})`;
