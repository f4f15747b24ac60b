import type { Config } from '../config/schema.js';
import type { Context } from '../context.js';
import type { Alert, AlertStatus } from '../domain/alert.js';
import { errors } from '../errors.js';

// The `approvals` setting. 1: a publisher may publish any draft. 2: someone other than the author
// approves first, and the person who publishes is not the author either (they may be the approver).

/** An alert with the workflow fields kept beside it in its hash. */
export type WorkflowAlert = Alert & {
  approvedBy?: string;
  approvedAt?: string;
  publishRequestedBy?: string;
  scheduledFor?: string;
  scheduledBy?: string;
  scheduleJob?: string;
  scheduledFrom?: string;
};

/** Names compare without case, accents of width, or extra spaces: "Ada  Lovelace" is "ada lovelace". */
export const samePerson = (a: string | undefined, b: string | undefined): boolean => {
  const norm = (s: string) => s.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
  return Boolean(a && b && norm(a) === norm(b));
};

/** Statuses an alert may be published from under this configuration. */
export function publishableStatuses(config: Pick<Config, 'approvals'>): readonly AlertStatus[] {
  return config.approvals === 2 ? ['approved', 'scheduled'] : ['draft', 'approved', 'scheduled'];
}

/** Throws unless `actor` may approve this alert now. */
export function assertMayApprove(config: Pick<Config, 'approvals'>, alert: WorkflowAlert, actor: string): void {
  if (alert.status !== 'draft') throw errors.ALERT_NOT_APPROVABLE(alert.slug, alert.status);
  if (config.approvals === 2 && samePerson(actor, alert.createdBy)) throw errors.SAME_PERSON(alert.createdBy ?? actor, alert.slug, 'approve');
}

/**
 * Throws unless `actor` may publish (or schedule) this alert. Alerts already publishing or
 * published pass: publishing them again is an idempotent no-op that publishAlert reports.
 */
export function assertMayPublish(config: Pick<Config, 'approvals'>, alert: WorkflowAlert, actor: string): void {
  if (config.approvals !== 2) return;
  if (alert.status === 'draft') throw errors.APPROVAL_REQUIRED(alert.slug);
  if ((alert.status === 'approved' || alert.status === 'scheduled') && samePerson(actor, alert.createdBy)) {
    throw errors.SAME_PERSON(alert.createdBy ?? actor, alert.slug, 'publish');
  }
}

/** The reason `actor` cannot publish now, in words, or null if they can. */
export function publishBlocker(config: Pick<Config, 'approvals'>, alert: WorkflowAlert, actor: string): string | null {
  if (!publishableStatuses(config).includes(alert.status)) {
    return alert.status === 'draft' ? errors.APPROVAL_REQUIRED(alert.slug).message : `Alert is ${alert.status}.`;
  }
  try {
    assertMayPublish(config, alert, actor);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** draft -> approved, recording who and when. */
export async function approveAlert(ctx: Context, idOrSlug: string, actor: string): Promise<WorkflowAlert> {
  const alert = (await ctx.alerts.require(idOrSlug)) as WorkflowAlert;
  assertMayApprove(ctx.config, alert, actor);
  const approvedAt = new Date().toISOString();
  const { changed, previous } = await ctx.alerts.transition(alert.id, ['draft'], 'approved', { approvedBy: actor, approvedAt });
  if (!changed) throw errors.ALERT_NOT_APPROVABLE(alert.slug, previous ?? 'missing');
  return { ...alert, status: 'approved', approvedBy: actor, approvedAt };
}
