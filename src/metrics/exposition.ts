import { Gauge, Registry, type Metric } from 'prom-client';
import { DELIVERY_STATES } from '../store/ledger.js';
import { LATENCY_BUCKETS } from './latency.js';
import { QUEUE_STATES, type MetricsSnapshot } from './snapshot.js';

// A fresh registry per scrape: nothing global, so any number of servers (and tests) can coexist,
// and two overlapping scrapes never see each other's half-filled gauges.

const epochSeconds = (iso?: string): number | undefined => {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(ms) ? ms / 1000 : undefined;
};

export async function renderMetrics(snapshot: MetricsSnapshot): Promise<{ contentType: string; body: string }> {
  const registry = new Registry();
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) => new Gauge<L>({ name, help, labelNames, registers: [registry] });

  const info = gauge('tocsin_alert_info', 'Recent alerts: slug, status and level, to join with the other tocsin_alert_* series on "alert".', [
    'alert',
    'slug',
    'status',
    'level',
  ]);
  const deliveries = gauge('tocsin_alert_deliveries', 'Deliveries of recent alerts by channel and state, from the delivery ledger.', [
    'alert',
    'channel',
    'state',
  ]);
  const outstanding = gauge('tocsin_alert_outstanding_deliveries', 'Deliveries of recent alerts that have no outcome yet.', ['alert']);
  const started = gauge('tocsin_alert_publish_started_timestamp_seconds', 'When publishing of the alert started (fan-out began).', ['alert']);
  const duration = gauge(
    'tocsin_alert_publish_duration_seconds',
    'Time from the start of publishing to the last delivery outcome, for alerts whose every delivery has one.',
    ['alert'],
  );
  for (const a of snapshot.alerts) {
    info.set({ alert: a.id, slug: a.slug, status: a.status, level: a.level }, 1);
    for (const [channel, counts] of Object.entries(a.counts.channels)) {
      for (const state of DELIVERY_STATES) deliveries.set({ alert: a.id, channel, state }, counts[state]);
    }
    outstanding.set({ alert: a.id }, a.counts.outstanding);
    const from = epochSeconds(a.publication.startedAt);
    const to = epochSeconds(a.publication.finishedAt);
    if (from !== undefined) started.set({ alert: a.id }, from);
    // A retry re-opens a finished alert: its duration is shown again once it finishes again.
    if (from !== undefined && to !== undefined && a.counts.outstanding === 0) duration.set({ alert: a.id }, Math.max(0, to - from));
  }

  const jobs = gauge('tocsin_queue_jobs', 'Jobs per queue and state (waiting, prioritized, active, delayed, failed, waiting-children).', ['queue', 'state']);
  const depth = gauge('tocsin_queue_depth', 'Jobs ready to run but not started (waiting + prioritized).', ['queue']);
  for (const q of snapshot.queues) {
    for (const state of QUEUE_STATES) jobs.set({ queue: q.name, state }, q.counts[state]);
    depth.set({ queue: q.name }, q.counts.waiting + q.counts.prioritized);
  }

  const subscribers = gauge('tocsin_subscribers', 'Subscribers by status (counted at tocsin_subscribers_counted_timestamp_seconds).', ['status']);
  for (const [status, n] of Object.entries(snapshot.subscribers.counts)) subscribers.set({ status }, n);
  gauge('tocsin_subscribers_counted_timestamp_seconds', 'When the subscriber counts were taken; they are reused for metrics.subscriberCountCacheMs.', []).set(
    snapshot.subscribers.at / 1000,
  );

  const failures = gauge('tocsin_channel_consecutive_failures', 'Deliveries in a row that failed, per account channel (0 after a success).', ['channel']);
  const lastSuccess = gauge('tocsin_channel_last_success_timestamp_seconds', 'Last successful delivery or credential check, per account channel.', ['channel']);
  for (const [channel, h] of Object.entries(snapshot.health)) {
    failures.set({ channel }, h.consecutiveFailures);
    const t = epochSeconds(h.lastSuccessAt);
    if (t !== undefined) lastSuccess.set({ channel }, t);
  }

  if (snapshot.local) {
    gauge('tocsin_console_live_streams', 'Live progress streams (SSE) open on the process that answered this scrape.', []).set(snapshot.local.liveStreams);
    gauge('tocsin_console_live_stream_alerts', 'Alerts those streams watch (one snapshot per alert per change).', []).set(snapshot.local.liveStreamAlerts);
    gauge('tocsin_console_live_stream_readers', 'Redis connections those streams use (one per process while any is open).', []).set(
      snapshot.local.liveStreamReaders,
    );
  }

  registry.registerMetric(latencyHistogram(snapshot) as unknown as Metric);
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/** prom-client cannot load a histogram from stored bucket counts, so this hands it the values. */
function latencyHistogram(snapshot: MetricsSnapshot) {
  const name = 'tocsin_send_duration_seconds';
  const bounds = [...LATENCY_BUCKETS.map(String), '+Inf'];
  const values = snapshot.latency.flatMap((s) => {
    const labels = { channel: s.channel, result: s.result };
    return [
      ...bounds.map((le, i) => ({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: s.buckets[i] })),
      { metricName: `${name}_sum`, labels, value: s.sum },
      { metricName: `${name}_count`, labels, value: s.count },
    ];
  });
  const metric = {
    name,
    help: 'Time to send one message (an SMTP hand-off, or a whole post or thread), per channel and result (sent, permanent, transient, rate-limited, unknown), from every worker.',
    type: 'histogram',
    aggregator: 'sum',
    collect: () => {},
    get: async () => ({ name, help: metric.help, type: 'histogram', aggregator: 'sum', values }),
    reset: () => {},
  };
  return metric;
}
