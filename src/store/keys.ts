// Every Redis key Tocsin uses, in one place. To move to Redis Cluster, wrap the per-alert part
// in a hash tag here (e.g. `{${alertId}}`) so an alert's ledger, counters and events share a slot.

export type Keys = ReturnType<typeof redisKeys>;

export function redisKeys(prefix: string) {
  const k = (...parts: Array<string | number>) => [prefix, ...parts].join(':');
  return {
    prefix,
    /** BullMQ's own prefix: queues live under `${prefix}:q:<queue>:...`. */
    queuePrefix: k('q'),
    meta: (name: string) => k('meta', name),

    alert: (id: string) => k('alert', id),
    alertIndex: () => k('alerts'),
    alertSlug: (slug: string) => k('alert-slug', slug),
    rendered: (alertId: string, channel: string) => k('rendered', alertId, channel),
    publication: (alertId: string) => k('pub', alertId),

    subscriberSeq: () => k('sub', 'seq'),
    subscriber: (id: number) => k('sub', id),
    subscriberByEmail: () => k('sub', 'by-email'),
    suppressed: () => k('suppressed'),

    /** Hash: target -> ledger entry (JSON). One per (alert, channel). */
    ledger: (alertId: string, channel: string) => k('ledger', alertId, channel),
    /** Hash: `${channel}|${state}` -> count, plus `${channel}|total`. */
    counts: (alertId: string) => k('counts', alertId),
    /** Set of channels that have ledger entries for this alert. */
    channels: (alertId: string) => k('channels', alertId),
    /** Stream of delivery events for one alert (capped). */
    events: (alertId: string) => k('events', alertId),
    /** Stream of every alert's lifecycle events (capped). */
    activity: () => k('activity'),
    /** List of thread parts already posted for (alert, channel), so a thread resumes. */
    postedParts: (alertId: string, channel: string) => k('parts', alertId, channel),
    /** Hash: channel -> health JSON. */
    channelHealth: () => k('channel-health'),
  };
}
