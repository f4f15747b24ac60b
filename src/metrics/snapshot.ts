import type { Context } from '../context.js';
import type { SubscriberStatus } from '../domain/subscriber.js';
import { QUEUE } from '../queue/queues.js';
import { SCHEDULE_QUEUE } from '../publish/schedule.js';
import type { AlertCounts } from '../store/ledger.js';
import type { ChannelHealth } from '../store/health.js';
import type { PublicationState } from '../store/publications.js';
import { readLatency, type LatencySeries } from './latency.js';

// Everything /metrics shows is read from Redis at scrape time, so any API process, however many
// there are and wherever the workers run, reports the same global numbers.

// BullMQ 6 has no 'paused' state: a paused queue keeps its jobs in 'waiting'.
export const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'waiting-children'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

export interface AlertSnapshot {
  id: string;
  slug: string;
  status: string;
  level: string;
  counts: AlertCounts;
  publication: PublicationState;
}

export interface MetricsSnapshot {
  alerts: AlertSnapshot[];
  queues: Array<{ name: string; counts: Record<QueueState, number> }>;
  subscribers: SubscriberCounts;
  latency: LatencySeries[];
  health: Record<string, ChannelHealth>;
  /** Figures of the process answering the scrape, not read from Redis. */
  local?: { liveStreams: number; liveStreamAlerts: number; liveStreamReaders: number };
}

/** Every queue this deployment uses: publish, schedule (delayed publishes), email, one per account. */
export function queueNames(ctx: Pick<Context, 'config'>): string[] {
  const accounts = [...ctx.config.webhooks.map((w) => w.id), ...ctx.config.social.map((s) => s.id)];
  return [QUEUE.publish, SCHEDULE_QUEUE, ...(ctx.config.email.enabled ? [QUEUE.email] : []), ...accounts.map(QUEUE.account)];
}

export interface SnapshotOptions {
  /** Counting subscribers reads every one of them: pass cachedSubscriberCounts(ctx). */
  subscribers: () => Promise<SubscriberCounts>;
}

export async function collectSnapshot(ctx: Context, options: SnapshotOptions): Promise<MetricsSnapshot> {
  const [alerts, queues, subscribers, latency, health] = await Promise.all([
    recentAlerts(ctx),
    Promise.all(
      queueNames(ctx).map(async (name) => {
        const raw = await ctx.queues.get(name).getJobCounts(...QUEUE_STATES);
        return { name, counts: Object.fromEntries(QUEUE_STATES.map((s) => [s, raw[s] ?? 0])) as Record<QueueState, number> };
      }),
    ),
    options.subscribers(),
    readLatency(ctx.redis, ctx.keys),
    ctx.health.all(),
  ]);
  return { alerts, queues, subscribers, latency, health };
}

async function recentAlerts(ctx: Context): Promise<AlertSnapshot[]> {
  const limit = ctx.config.metrics.recentAlerts;
  if (limit === 0) return [];
  const alerts = await ctx.alerts.list({ limit });
  const rows = await Promise.all(
    alerts.map(async (alert) => {
      const [counts, publication] = await Promise.all([ctx.ledger.counts(alert.id), ctx.publications.get(alert.id)]);
      return { id: alert.id, slug: alert.slug, status: alert.status, level: alert.level ?? 'none', counts, publication };
    }),
  );
  // Drafts and never-published alerts have nothing to measure.
  return rows.filter((a) => a.publication.state !== 'not-started' || a.counts.totals.total > 0);
}

export interface SubscriberCounts {
  counts: Record<SubscriberStatus, number>;
  /** When the count was taken (epoch ms): a served count may be up to one cache period old. */
  at: number;
}

/**
 * countByStatus reads every subscriber (about 2 s per 100,000), too slow for a scrape timeout at
 * scale. So a count younger than `metrics.subscriberCountCacheMs` is reused, an older one is
 * served while a fresh one is taken behind it, and only the very first scrape waits.
 */
export function cachedSubscriberCounts(ctx: Context): () => Promise<SubscriberCounts> {
  let last: SubscriberCounts | undefined;
  let inflight: Promise<SubscriberCounts> | undefined;
  const refresh = () =>
    (inflight ??= ctx.subscribers
      .countByStatus()
      .then((counts) => (last = { counts, at: Date.now() }))
      .finally(() => {
        inflight = undefined;
      }));
  return async () => {
    const maxAge = ctx.config.metrics.subscriberCountCacheMs;
    if (last && Date.now() - last.at < maxAge) return last;
    if (last && maxAge > 0) {
      refresh().catch((err: Error) => ctx.log.warn({ err: err.message }, 'could not count subscribers for /metrics'));
      return last;
    }
    return refresh();
  };
}
