import type { ConsoleSession } from './session.js';
import type { ConsoleDeps } from './deps.js';
import type { WorkflowAlert } from '../publish/approval.js';
import { assertMayApprove, publishBlocker } from '../publish/approval.js';
import { countryName } from '../domain/countries.js';
import { EMAIL_CHANNEL } from '../publish/rendered.js';
import { channelProgress, formatEta, rateText } from './progress.js';
import { failureGroups } from './failures.js';
import { previewAlert } from './preview.js';
import { hasRole } from './roles.js';

const EDITABLE = ['draft', 'approved'];

export function channelLabel(deps: ConsoleDeps, channel: string): string {
  if (channel === EMAIL_CHANNEL) return 'Email';
  const account = deps.accounts.get(channel);
  return account ? `${channel} (${account.provider})` : `${channel} (no longer configured)`;
}

/** The live part of the alert page: progress per channel and the failures table. */
export async function deliveryData(deps: ConsoleDeps, alert: WorkflowAlert, session?: ConsoleSession) {
  const { ctx } = deps;
  const [counts, publication, groups] = await Promise.all([ctx.ledger.counts(alert.id), ctx.publications.get(alert.id), failureGroups(ctx, alert.id)]);
  const canAct = Boolean(session && hasRole(session.role, 'publisher'));
  const channels = channelProgress(counts).map((c) => ({
    ...c,
    label: channelLabel(deps, c.channel),
    rateText: rateText(c),
    etaText: formatEta(c.etaSeconds),
  }));
  return {
    alertId: alert.id,
    started: publication.state !== 'not-started' || channels.length > 0,
    publication,
    complete: publication.state === 'fanned-out' && counts.outstanding === 0,
    totals: counts.totals,
    channels,
    groups: groups.map((g) => ({ ...g, label: channelLabel(deps, g.channel), unknown: g.state === 'unknown' })),
    anyFailed: counts.totals.failed > 0,
    anyUnknown: counts.totals.unknown > 0,
    canAct,
  };
}

export async function alertPageData(deps: ConsoleDeps, alert: WorkflowAlert, session?: ConsoleSession) {
  const { ctx } = deps;
  const actor = session?.actor ?? '';
  const isPublisher = Boolean(session && hasRole(session.role, 'publisher'));
  let approveBlocker: string | null = null;
  try {
    assertMayApprove(ctx.config, alert, actor);
  } catch (err) {
    approveBlocker = (err as Error).message;
  }
  const [delivery, audit] = await Promise.all([deliveryData(deps, alert, session), deps.audit.list(alert.id)]);
  const editable = EDITABLE.includes(alert.status);
  const blocker = publishBlocker(ctx.config, alert, actor);
  return {
    alert,
    countries: alert.countries.map((c) => ({ code: c, name: countryName(c) })),
    delivery,
    audit: audit.slice().reverse(),
    editable,
    canEdit: editable && Boolean(session && hasRole(session.role, 'editor')),
    canApprove: isPublisher && alert.status === 'draft' && !approveBlocker,
    approveBlocker: isPublisher && alert.status === 'draft' ? approveBlocker : null,
    showApprove: alert.status === 'draft',
    canPublish: isPublisher && ['draft', 'approved', 'scheduled'].includes(alert.status) && !blocker,
    publishBlocker: isPublisher && ['draft', 'approved', 'scheduled'].includes(alert.status) ? blocker : null,
    canCancel: isPublisher && alert.status === 'scheduled',
    preview: editable || alert.status === 'scheduled' ? await previewAlert(ctx.config, deps.accounts, alert) : undefined,
  };
}
