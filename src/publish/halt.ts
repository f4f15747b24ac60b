import type { Context } from '../context.js';
import { errors } from '../errors.js';
import { haltNote, type Halt } from '../store/halts.js';
import type { AlertStatus } from '../domain/alert.js';
import type { PublicationState } from '../store/publications.js';
import { jobIds } from '../queue/jobs.js';
import { parseDeliveryChannel, deliveryId } from '../delivery/delivery-channel.js';
import { queueAgain } from './requeue.js';

// Halt: stop an alert that is still going out. Every delivery not yet made (queued, or waiting to
// retry) becomes `skipped` with "halted by NAME: reason", at once. What a worker is sending at
// that moment finishes and is recorded; before each further message or thread part a worker
// reads the halt and records `skipped` instead of sending. A fan-out still under way (it is paced,
// see workers/pace.ts) queues nothing more: it records the rest of the list as `skipped` too, so
// the halt's counts cover every recipient. Resume: the deliveries a halt skipped are queued again.

export type HaltResult = { outcome: 'halted' | 'already'; halt: Halt; skipped: Record<string, number> };

/** Statuses in which an alert may be halted: it, or one of its follow-ups, may be going out. */
const HALTABLE: readonly AlertStatus[] = ['publishing', 'published', 'corrected', 'retracted'];

/** What decides whether a halt can be made now; the console reads the same to offer "Stop sending". */
export interface HaltCheck {
  status: AlertStatus;
  halt: Halt | null;
  latestVersion: number;
  fanOutState: PublicationState['state'];
  outstanding: number;
}

/** The alert, or its latest follow-up, still has something to send, and no halt covers it yet. */
export function canHalt(c: HaltCheck): boolean {
  if (c.halt && c.halt.version >= c.latestVersion) return false;
  const sending = c.status === 'publishing' || c.outstanding > 0 || (c.fanOutState === 'fanning-out' && c.status !== 'halted');
  return HALTABLE.includes(c.status) && sending;
}

/** A version's fan-out is over: done, or kept from starting by a halt. One under way when halted still walks its list. */
export const fanOutOver = (version: number, state: PublicationState['state'], halt: Halt | null): boolean =>
  state === 'fanned-out' || (halt !== null && version <= halt.version && state === 'not-started');

/** `role`, when given (the console's signed-in role), is kept with the audit entry. */
export async function haltAlert(ctx: Context, idOrSlug: string, actor: string, reason = 'no reason given', role?: string): Promise<HaltResult> {
  const alert = await ctx.alerts.require(idOrSlug);
  const version = (await ctx.versions.latest(alert.id))?.version ?? 1;
  // A halt covers the versions current when it was made; a later correction going out can be
  // halted in its turn (the halt then covers it too).
  const existing = await ctx.halts.get(alert.id);
  if (existing && existing.version >= version) return { outcome: 'already', halt: existing, skipped: {} };
  const counts = await ctx.ledger.counts(alert.id);
  const fanOut = await ctx.publications.get(alert.id);
  const check = { status: alert.status, halt: existing, latestVersion: version, fanOutState: fanOut.state, outstanding: counts.outstanding };
  if (!canHalt(check)) throw errors.ALERT_NOT_HALTABLE(alert.slug, alert.status);
  const halt: Halt = { by: actor, reason: reason.trim() || 'no reason given', at: new Date().toISOString(), version };
  if (existing) await ctx.halts.replace(alert.id, existing, halt);
  else if (!(await ctx.halts.set(alert.id, halt))) return { outcome: 'already', halt: (await ctx.halts.get(alert.id)) ?? halt, skipped: {} };
  await ctx.alerts.transition(alert.id, ['publishing'], 'halted', { haltedBy: actor, haltedAt: halt.at });
  const skipped = await skipOutstanding(ctx, alert.id, halt);
  await ctx.audit.record(alert.id, {
    actor,
    ...(role ? { role } : {}),
    action: 'halted',
    detail: `${halt.reason} (${Object.values(skipped).reduce((a, b) => a + b, 0)} deliveries skipped)`,
  });
  await ctx.activity.append({ type: 'halted', alert: alert.id, actor, reason: halt.reason });
  return { outcome: 'halted', halt, skipped };
}

/** queued/retrying -> skipped (halted) on every channel of every halted version. */
async function skipOutstanding(ctx: Context, alertId: string, halt: Halt): Promise<Record<string, number>> {
  const skipped: Record<string, number> = {};
  const note = haltNote(halt);
  for (const channel of await ctx.ledger.channels(alertId)) {
    if (parseDeliveryChannel(channel).version > halt.version) continue;
    const waiting = await ctx.ledger.targetsInState(alertId, channel, 'queued', 'retrying');
    let moved = 0;
    for (const from of ['queued', 'retrying'] as const) {
      moved += (await ctx.ledger.reopen(alertId, channel, waiting, { from, to: 'skipped', halted: true }, note)).length;
    }
    if (moved) skipped[channel] = moved;
  }
  return skipped;
}

/** A page of recipients that a halted fan-out reaches: in the ledger as `skipped`, with no job. */
export async function skipHaltedPage(ctx: Context, alertId: string, ledgerChannel: string, targets: string[], halt: Halt): Promise<void> {
  // Ledger first, as for any page; a re-run after a crash between the two finds them queued and moves them.
  await ctx.ledger.enqueue(alertId, ledgerChannel, targets);
  await ctx.ledger.reopen(alertId, ledgerChannel, targets, { from: 'queued', to: 'skipped', halted: true }, haltNote(halt));
}

export type ResumeResult = { requeued: Record<string, number>; jobs: number };

/**
 * Whether a halt may be resumed: it covers the latest version. A correction or retraction
 * published since it superseded what it halted, and resuming would send the replaced text; a
 * correction halted while going out (the halt covers it) resumes like the original.
 */
export function resumable(halt: Halt | null, latestVersion: number): halt is Halt {
  return halt !== null && latestVersion <= halt.version;
}

export async function resumeAlert(ctx: Context, idOrSlug: string, actor: string, role?: string): Promise<ResumeResult> {
  const alert = await ctx.alerts.require(idOrSlug);
  const halt = await ctx.halts.get(alert.id);
  // Corrected or retracted since the halt: what was halted is superseded, and must not go out.
  const latest = (await ctx.versions.latest(alert.id))?.version ?? 1;
  if (!resumable(halt, latest)) throw errors.ALERT_NOT_HALTED(alert.slug, alert.status);
  await ctx.halts.clear(alert.id);
  await ctx.alerts.transition(alert.id, ['halted'], 'publishing', { resumedBy: actor });
  const round = Date.now().toString(36);
  const result: ResumeResult = { requeued: {}, jobs: 0 };
  for (const channel of await ctx.ledger.channels(alert.id)) {
    // Only the latest version goes on; an earlier one the halt stopped was superseded by it.
    if (parseDeliveryChannel(channel).version !== latest) continue;
    const halted = (await ctx.ledger.targetsInState(alert.id, channel, 'skipped')).filter(Boolean);
    const moved = await ctx.ledger.reopen(alert.id, channel, halted, { from: 'skipped', to: 'queued', halted: true });
    if (!moved.length) continue;
    result.requeued[channel] = moved.length;
    result.jobs += await queueAgain(ctx, alert.id, channel, moved, round);
  }
  // A fan-out the halt stopped (or kept from starting) goes on from its cursor (a new job id).
  if ((await ctx.publications.get(deliveryId(alert.id, latest))).state !== 'fanned-out') {
    if (latest === 1) await ctx.queues.add({ kind: 'publish', alertId: alert.id }, jobIds.resume(alert.id, round), { level: alert.level });
    else
      await ctx.queues.add({ kind: 'follow-up', alertId: alert.id, version: latest }, `${jobIds.followUp(alert.id, latest)}-resume-${round}`, {
        level: alert.level,
      });
    result.jobs++;
  }
  await ctx.publications.reopenIfNeeded(alert.id);
  await ctx.publications.finishIfComplete(alert.id);
  await ctx.audit.record(alert.id, {
    actor,
    ...(role ? { role } : {}),
    action: 'resumed',
    detail: `${Object.values(result.requeued).reduce((a, b) => a + b, 0)} deliveries queued again`,
  });
  await ctx.activity.append({ type: 'resumed', alert: alert.id, actor });
  return result;
}
