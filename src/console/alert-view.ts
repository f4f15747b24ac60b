import type { ConsoleSession } from './session.js';
import type { ConsoleDeps } from './deps.js';
import type { WorkflowAlert } from '../publish/approval.js';
import { assertMayApprove, publishBlocker } from '../publish/approval.js';
import { countryName } from '../domain/countries.js';
import { EMAIL_CHANNEL } from '../publish/rendered.js';
import { parseDeliveryChannel } from '../delivery/delivery-channel.js';
import { WENT_OUT } from '../publish/follow-up.js';
import { alertStatus } from '../publish/status.js';
import { resumable } from '../publish/halt.js';
import type { VersionKind } from '../store/versions.js';
import { channelProgress, formatEta, rateText } from './progress.js';
import { failureGroups } from './failures.js';
import { previewAlert } from './preview.js';
import { hasRole } from './roles.js';
import { deliveriesComplete, fanOuts, goingOut, versionHeading, versionKind } from './fan-outs.js';
import { haltedByChannel, sortByVersion } from './halt-view.js';

const EDITABLE = ['draft', 'approved'];

/** "Email", "masto (mastodon)"; a follow-up's channel ("email@v2") adds its version: "Email, version 2". */
export function channelLabel(deps: ConsoleDeps, channel: string): string {
  const { channel: base, version } = parseDeliveryChannel(channel);
  const suffix = version > 1 ? `, version ${version}` : '';
  if (base === EMAIL_CHANNEL) return `Email${suffix}`;
  const account = deps.accounts.get(base);
  return `${account ? `${base} (${account.provider})` : `${base} (no longer configured)`}${suffix}`;
}

/** The live part of the alert page: progress per channel, grouped by version, and the failures table. */
export async function deliveryData(deps: ConsoleDeps, alert: WorkflowAlert, session?: ConsoleSession) {
  const { ctx } = deps;
  const [counts, fans, groups] = await Promise.all([ctx.ledger.counts(alert.id), fanOuts(ctx, alert.id), failureGroups(ctx, alert.id)]);
  const canAct = Boolean(session && hasRole(session.role, 'publisher'));
  const channels = channelProgress(counts)
    .sort((a, b) => sortByVersion(a.channel, b.channel))
    .map((c) => {
      const { version } = parseDeliveryChannel(c.channel);
      return { ...c, version, label: channelLabel(deps, c.channel), rateText: rateText(c), etaText: formatEta(c.etaSeconds) };
    });
  const versions: Array<{ version: number; kind: VersionKind; heading: string; channels: typeof channels }> = [];
  for (const c of channels) {
    let group = versions.find((v) => v.version === c.version);
    if (!group) {
      const kind = versionKind(c.version, fans.versionCount, alert.status);
      group = { version: c.version, kind, heading: versionHeading(c.version, kind), channels: [] };
      versions.push(group);
    }
    group.channels.push(c);
  }
  const complete = deliveriesComplete(fans, counts);
  // A version's fan-out is over when it finished or a halt stopped it (as in the status report).
  const over = (version: number, state: string) => state === 'fanned-out' || (fans.halt !== null && version <= fans.halt.version);
  const allQueued = over(1, fans.publication.state) && fans.followUps.every((f) => over(f.version, f.state));
  return {
    alertId: alert.id,
    started: fans.publication.state !== 'not-started' || channels.length > 0,
    publication: fans.publication,
    complete,
    state: alert.status === 'halted' ? 'halted' : complete ? 'complete' : allQueued ? 'queued' : 'queuing',
    totals: counts.totals,
    channels,
    versions,
    /** More than one version has deliveries: each gets its own heading. */
    grouped: versions.length > 1,
    groups: groups.map((g) => ({ ...g, label: channelLabel(deps, g.channel), unknown: g.state === 'unknown' })),
    anyFailed: counts.totals.failed > 0,
    anyUnknown: counts.totals.unknown > 0,
    canAct,
  };
}

/**
 * Stopping, correcting and retracting as they stand: the halt (who, when, why, what it skipped),
 * the latest correction or retraction, the status report's warnings, and what this person may do.
 * Shown at the top of the alert page and refreshed with the delivery section.
 */
export async function controlsData(deps: ConsoleDeps, alert: WorkflowAlert, session?: ConsoleSession) {
  const { ctx } = deps;
  const isPublisher = Boolean(session && hasRole(session.role, 'publisher'));
  const [latest, counts, fans, report] = await Promise.all([
    ctx.versions.latest(alert.id),
    ctx.ledger.counts(alert.id),
    fanOuts(ctx, alert.id),
    // The status report's halt and warnings (Redis refusing writes, a channel paused), as the API and CLI show them.
    alertStatus(ctx, alert.id, 1),
  ]);
  const halt = report.halt;
  const haltWarning = halt ? `halted by ${halt.by} at ${halt.at}: ${halt.reason}` : '';
  const followable = WENT_OUT.includes(alert.status);
  // The rule resumeAlert applies: a halted correction resumes too, a superseded halt does not.
  const mayResume = resumable(halt, latest?.version ?? 1);
  return {
    halt,
    warnings: report.warnings.filter((w) => w !== haltWarning),
    haltedSkipped: halt ? (await haltedByChannel(ctx, alert.id, halt)).map((c) => ({ ...c, label: channelLabel(deps, c.channel) })) : [],
    /** The halt stopped a version that a later correction or retraction replaced. */
    haltSuperseded: halt !== null && !mayResume,
    canResume: isPublisher && mayResume,
    canHalt: isPublisher && goingOut(alert.status, fans, counts),
    outstanding: counts.outstanding,
    canCorrect: isPublisher && followable,
    canRetract: isPublisher && followable,
    correctedBy: latest?.kind === 'correction' ? latest : undefined,
    retractedBy: latest?.kind === 'retraction' ? latest : undefined,
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
  const [delivery, controls, audit, versions] = await Promise.all([
    deliveryData(deps, alert, session),
    controlsData(deps, alert, session),
    deps.audit.list(alert.id),
    ctx.versions.all(alert.id),
  ]);
  const editable = EDITABLE.includes(alert.status);
  const blocker = publishBlocker(ctx.config, alert, actor);
  const latest = versions[versions.length - 1];
  return {
    alert,
    countries: alert.countries.map((c) => ({ code: c, name: countryName(c) })),
    delivery,
    controls,
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
    versions: versions.map((v) => ({ ...v, heading: versionHeading(v.version, v.kind), current: v === latest })),
    publicPages: ctx.config.public.site.enabled,
  };
}
