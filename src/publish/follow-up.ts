import type { Context } from '../context.js';
import type { Alert, AlertStatus } from '../domain/alert.js';
import { parseAlertObject, type ValidAlertInput } from '../domain/parse.js';
import { publicFields } from '../domain/public-alert.js';
import { errors } from '../errors.js';
import { jobIds } from '../queue/jobs.js';
import type { AlertVersion } from '../store/versions.js';
import { ensureOriginalVersion } from './versions.js';
import { haltAlert, type HaltResult } from './halt.js';

// Correct and retract: a new version of an alert that went out, delivered on every channel as a
// follow-up of the original (src/workers/follow-up.ts). A correction of an alert still going out
// halts it first; the follow-up then reaches those who got the original (threaded to it) and
// those who got nothing yet (the corrected alert, whole). Each version is sent once: its job id
// is fixed, and asking again for the same correction or a second retraction changes nothing.

export type FollowUpResult = { outcome: 'queued' | 'already'; version: AlertVersion; halted?: HaltResult; message: string };

/** Statuses of an alert that went out, in full or in part: it may be corrected or retracted. */
export const WENT_OUT: readonly AlertStatus[] = ['publishing', 'halted', 'published', 'corrected'];

/** `role`, when given (the console's signed-in role), is kept with the audit entries. */
export async function correctAlert(ctx: Context, idOrSlug: string, input: unknown, note: string, actor: string, role?: string): Promise<FollowUpResult> {
  const alert = await ctx.alerts.require(idOrSlug);
  const fields = parseAlertObject({ ...(input as object), slug: alert.slug });
  const trimmed = note.trim();
  if (!trimmed) throw errors.BODY_INVALID('note: say what changed, in words readers will see');
  if (alert.status === 'retracted') throw errors.ALERT_NOT_FOLLOWABLE(alert.slug, 'corrected', alert.status);
  if (!WENT_OUT.includes(alert.status)) throw errors.ALERT_NOT_FOLLOWABLE(alert.slug, 'corrected', alert.status);
  const corrected: Alert = { ...alert, ...fields, id: alert.id, slug: alert.slug, createdAt: alert.createdAt };
  const latest = await ensureOriginalVersion(ctx, alert, actor);
  if (latest.kind === 'correction' && latest.note === trimmed && sameText(latest.alert, publicFields(corrected))) {
    return {
      outcome: 'already',
      version: latest,
      message: `Alert ${alert.slug} already has this correction (version ${latest.version}); nothing was sent again.`,
    };
  }
  return followUp(ctx, alert, corrected, { kind: 'correction', note: trimmed, actor, role, latest });
}

export async function retractAlert(
  ctx: Context,
  idOrSlug: string,
  reason: string,
  actor: string,
  options: { deleteOriginals?: boolean; role?: string } = {},
): Promise<FollowUpResult> {
  const alert = await ctx.alerts.require(idOrSlug);
  const trimmed = reason.trim();
  if (!trimmed) throw errors.BODY_INVALID('reason: say why it is retracted, in words readers will see');
  const latest = await ctx.versions.latest(alert.id);
  if (alert.status === 'retracted' && latest?.kind === 'retraction') {
    return { outcome: 'already', version: latest, message: `Alert ${alert.slug} was already retracted (version ${latest.version}); nothing was sent again.` };
  }
  if (!WENT_OUT.includes(alert.status)) throw errors.ALERT_NOT_FOLLOWABLE(alert.slug, 'retracted', alert.status);
  return followUp(ctx, alert, alert, {
    kind: 'retraction',
    note: trimmed,
    actor,
    role: options.role,
    latest: await ensureOriginalVersion(ctx, alert, actor),
    deleteOriginals: options.deleteOriginals === true,
  });
}

async function followUp(
  ctx: Context,
  alert: Alert,
  next: Alert,
  how: { kind: 'correction' | 'retraction'; note: string; actor: string; role?: string; latest: AlertVersion; deleteOriginals?: boolean },
): Promise<FollowUpResult> {
  // Still going out: stop the rest of it first. Those it skips get the new version instead.
  const counts = await ctx.ledger.counts(alert.id);
  const fanOut = await ctx.publications.get(alert.id);
  let halted: HaltResult | undefined;
  if (alert.status === 'publishing' || counts.outstanding > 0 || fanOut.state === 'fanning-out') {
    halted = await haltAlert(ctx, alert.id, how.actor, `superseded by a ${how.kind}`, how.role).catch(() => undefined);
  }
  const version = how.latest.version + 1;
  const { version: stored } = await ctx.versions.appendVersion({
    version,
    kind: how.kind,
    at: new Date().toISOString(),
    by: how.actor,
    ...(how.kind === 'correction' ? { note: how.note } : { reason: how.note }),
    alert: publicFields(next),
  });
  const status = how.kind === 'correction' ? 'corrected' : 'retracted';
  const { status: _status, updatedAt: _updated, ...doc } = next;
  await ctx.alerts.transition(alert.id, [...WENT_OUT, 'corrected'], status, {
    doc: JSON.stringify(doc),
    [`${status}By`]: how.actor,
    [`${status}At`]: stored.at,
  });
  await ctx.queues.add(
    { kind: 'follow-up', alertId: alert.id, version, ...(how.deleteOriginals ? { deleteOriginals: true } : {}) },
    jobIds.followUp(alert.id, version),
    { level: alert.level },
  );
  await ctx.audit.record(alert.id, { actor: how.actor, ...(how.role ? { role: how.role } : {}), action: status, detail: `version ${version}: ${how.note}` });
  await ctx.activity.append({ type: status, alert: alert.id, version, actor: how.actor });
  return {
    outcome: 'queued',
    version: stored,
    ...(halted ? { halted } : {}),
    message: `Version ${version} of ${alert.slug} (${how.kind}) is going out on every channel${halted?.outcome === 'halted' ? '; the earlier version was halted first' : ''}.`,
  };
}

/** Two public versions with the same text (a repeated correction is not a new one). */
function sameText(a: ValidAlertInput, b: ValidAlertInput): boolean {
  return stable(a) === stable(b);
}

const stable = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => x.localeCompare(y)))
      : v,
  );
