import type { AlertStatusReport } from '../publish/status.js';
import type { ChannelCounts } from '../store/ledger.js';
import type { ChannelHealth } from '../store/health.js';

// What a status webhook receives. Public alert fields and counts only: never an address.

export interface Outcomes {
  total: number;
  sent: number;
  failed: number;
  unknown: number;
  skipped: number;
}

export interface AlertPublishedNotice {
  type: 'alert.published';
  /** Unique per notification (the activity stream entry): receivers deduplicate on it. */
  id: string;
  occurredAt: string;
  alert: { id: string; slug: string; title: string; level: string | null; countries: string[]; status: string; publishedAt: string | null };
  publication: { startedAt: string | null; finishedAt: string | null; durationSeconds: number | null };
  summary: Outcomes;
  channels: Record<string, Outcomes>;
  statusUrl: string;
}

export interface ChannelFailingNotice {
  type: 'channel.failing';
  id: string;
  occurredAt: string;
  channel: string;
  consecutiveFailures: number;
  threshold: number;
  lastError: string | null;
  lastFailureAt: string | null;
  lastSuccessAt: string | null;
}

export type Notice = AlertPublishedNotice | ChannelFailingNotice;

const outcomes = (c: ChannelCounts): Outcomes => ({ total: c.total, sent: c.sent, failed: c.failed, unknown: c.unknown, skipped: c.skipped });

/** Stream entry ids are `<ms>-<seq>`: the time the event happened. */
const entryTime = (entryId: string): string => new Date(Number(entryId.split('-')[0])).toISOString();

export function alertPublishedNotice(entryId: string, report: AlertStatusReport, publicUrl: string): AlertPublishedNotice {
  const { alert, publication, counts } = report;
  const started = publication.startedAt ? Date.parse(publication.startedAt) : NaN;
  const finished = publication.finishedAt ? Date.parse(publication.finishedAt) : NaN;
  return {
    type: 'alert.published',
    id: entryId,
    occurredAt: entryTime(entryId),
    alert: {
      id: alert.id,
      slug: alert.slug,
      title: alert.title,
      level: alert.level ?? null,
      countries: alert.countries,
      status: alert.status,
      publishedAt: alert.publishedAt ?? null,
    },
    publication: {
      startedAt: publication.startedAt ?? null,
      finishedAt: publication.finishedAt ?? null,
      durationSeconds: Number.isFinite(started) && Number.isFinite(finished) ? Math.max(0, (finished - started) / 1000) : null,
    },
    summary: outcomes(counts.totals),
    channels: Object.fromEntries(
      Object.entries(counts.channels)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([ch, c]) => [ch, outcomes(c)]),
    ),
    statusUrl: `${publicUrl.replace(/\/+$/, '')}/api/alerts/${alert.id}/status`,
  };
}

export function channelFailingNotice(entryId: string, channel: string, health: ChannelHealth, threshold: number): ChannelFailingNotice {
  return {
    type: 'channel.failing',
    id: entryId,
    occurredAt: entryTime(entryId),
    channel,
    consecutiveFailures: health.consecutiveFailures,
    threshold,
    lastError: health.lastError ?? null,
    lastFailureAt: health.lastFailureAt ?? null,
    lastSuccessAt: health.lastSuccessAt ?? null,
  };
}

/** Slack's three control characters; everything else in mrkdwn is shown as typed. */
const slackEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const duration = (seconds: number): string => {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m} min ${Math.round(seconds % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
};

const tally = (o: Outcomes) => `${o.sent} sent, ${o.failed} failed, ${o.unknown} unknown, ${o.skipped} skipped`;

/** A Slack incoming-webhook message: plain words first, so it reads the same without colour or emoji. */
export function slackMessage(notice: Notice): { text: string } {
  if (notice.type === 'alert.published') {
    const problems = notice.summary.failed + notice.summary.unknown;
    const head = `${problems > 0 ? 'Finished with problems' : 'Finished'}: *${slackEscape(notice.alert.title)}* (${slackEscape(notice.alert.slug)})`;
    const took = notice.publication.durationSeconds !== null ? ` in ${duration(notice.publication.durationSeconds)}` : '';
    const channels = Object.entries(notice.channels).map(([ch, o]) => `• ${slackEscape(ch)}: ${tally(o)}`);
    return {
      text: [`${head}${took}.`, `${tally(notice.summary)} of ${notice.summary.total}.`, ...channels, `<${notice.statusUrl}|Delivery status>`].join('\n'),
    };
  }
  const error = notice.lastError ? `\nLast error: ${slackEscape(notice.lastError.slice(0, 500))}` : '';
  return { text: `Channel failing: *${slackEscape(notice.channel)}* has failed its last ${notice.consecutiveFailures} deliveries.${error}` };
}
