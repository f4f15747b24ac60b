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
    /** Set of keyed hashes of addresses never to be mailed or imported again. Never the address itself. */
    suppressed: () => k('suppressed'),
    /** String (JSON, with TTL): the subscription request awaiting confirmation for this subscriber. */
    subscriptionPending: (id: number) => k('sub', id, 'pending'),
    /** Sorted set: subscriber id -> epoch ms after which the unconfirmed record is deleted. */
    pendingExpiry: () => k('sub', 'pending-expiry'),
    /** Hash: bounce kind (hard, soft, complaint) -> count, for one subscriber. */
    subscriberBounces: (id: number) => k('sub', id, 'bounces'),
    /** Counter with TTL for a rate limit; `subject` is a keyed hash, never a raw IP or address. */
    rateLimit: (kind: string, subject: string) => k('rl', kind, subject),
    /** Marker with TTL: a confirmation mail went to this (keyed-hashed) address in this window. */
    confirmationSent: (addressHash: string) => k('confirm-sent', addressHash),
    /** Marker with TTL: a bounce webhook message already processed (replay and retry guard). */
    webhookSeen: (provider: string, messageId: string) => k('webhook-seen', provider, messageId),

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
    /** Hash: channel -> refreshed OAuth tokens (JSON). */
    socialTokens: () => k('social-tokens'),
    /** Hash: channel -> health JSON. */
    channelHealth: () => k('channel-health'),

    /** String (JSON, with expiry): one console session. */
    consoleSession: (sessionId: string) => k('console-session', sessionId),
    /** List of JSON audit entries for one alert: who wrote, approved, published, retried it. */
    audit: (alertId: string) => k('audit', alertId),
    /** Hash: `${channel}|${result}|${le}` -> count, `...|sum` -> seconds: send latency, summed over every worker. */
    sendLatency: () => k('metrics', 'send-latency'),
    /** Hash: channel -> consecutive failures when its "channel.failing" notification was queued. */
    notifyFailing: () => k('notify', 'failing'),
    /** Hash per activity entry being notified: target -> "done", plus `#rounds`. Expires. */
    notifyProgress: (entryId: string) => k('notify', 'progress', entryId),
  };
}
