import type { Context } from '../context.js';
import type { AlertStatus } from '../domain/alert.js';
import { deliveryId } from '../delivery/delivery-channel.js';
import type { Halt } from '../store/halts.js';
import type { AlertCounts } from '../store/ledger.js';
import type { PublicationState } from '../store/publications.js';
import type { VersionKind } from '../store/versions.js';

// Where each version's fan-out stands (the alert, then each correction or retraction), for the
// alert page and its live stream. "Complete" follows the rule of the status report
// (src/publish/status.ts): every version's fan-out done, or stopped by a halt, and nothing
// outstanding.

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
  const done = (version: number, state: string) => state === 'fanned-out' || (f.halt !== null && version <= f.halt.version);
  return done(1, f.publication.state) && f.followUps.every((p) => done(p.version, p.state)) && counts.outstanding === 0;
}

/**
 * The same test as haltAlert (src/publish/halt.ts) makes before it halts: the alert, or one of its
 * follow-ups, still has something to send. The console offers "Stop sending" only then.
 */
export function goingOut(status: AlertStatus, f: FanOuts, counts: AlertCounts): boolean {
  const haltable: readonly AlertStatus[] = ['publishing', 'published', 'corrected', 'retracted'];
  const sending = status === 'publishing' || counts.outstanding > 0 || (f.publication.state === 'fanning-out' && status !== 'halted');
  return f.halt === null && haltable.includes(status) && sending;
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
