// Every Redis key Tocsin uses, in one place. On a single server (or behind Sentinel) the names are
// exactly those of earlier releases. On Redis Cluster (`cluster: true`) two hash tags decide the
// slots (README "Redis Cluster and Sentinel"):
// - per alert, `{<alertId>}`: the alert, its ledgers, counters, events, publication, halt, thread
//   parts, rendered messages and audit share one slot, so every ledger script runs in one slot and
//   alerts spread over the cluster (`prefix:ledger:{01J..}:email`);
// - everything else (subscribers, the public record, activity, sessions, limits) under
//   `{<prefix>}` (`{tocsin}:sub:42`), so the scripts and transactions that join them stay legal.
// BullMQ queues each get their own tag (`{tocsin:q:email}`), so queues spread too.

export type Keys = ReturnType<typeof redisKeys>;

/**
 * The address index is spread over this many small hashes, which Redis keeps as compact listpacks
 * (up to hash-max-listpack-entries = 128 each, so about a million subscribers) instead of one huge
 * hash table: about 40 bytes per subscriber instead of 82 (bench/README.md).
 */
export const EMAIL_INDEX_BUCKETS = 8192;

/** FNV-1a of the normalised address, so every process picks the same bucket. */
export function emailBucket(normalisedEmail: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < normalisedEmail.length; i++) h = Math.imul(h ^ normalisedEmail.charCodeAt(i), 0x01000193);
  return (h >>> 0) % EMAIL_INDEX_BUCKETS;
}

/** The alert id in a delivery id (`<id>` or `<id>@v<n>`): an alert's every version shares its slot. */
const alertOf = (deliveryId: string) => deliveryId.split('@')[0];

export interface KeyOptions {
  /** Redis Cluster: hash-tag the keys (see above). Off, the key names are unchanged. */
  cluster?: boolean;
}

export function redisKeys(prefix: string, options: KeyOptions = {}) {
  const cluster = options.cluster === true;
  const global = cluster ? `{${prefix}}` : prefix;
  const k = (...parts: Array<string | number>) => [global, ...parts].join(':');
  /** A per-alert key: `prefix:<kind>:{<alertId>}<rest of the id>:<parts>` on a cluster. */
  const a = (kind: string, id: string, ...parts: Array<string | number>) => {
    const tagged = cluster ? `{${alertOf(id)}}${id.slice(alertOf(id).length)}` : id;
    return [prefix, kind, tagged, ...parts].join(':');
  };
  return {
    prefix,
    cluster,
    /** BullMQ's own prefix on a single server: queues live under `${prefix}:q:<queue>:...`. */
    queuePrefix: `${prefix}:q`,
    /** The prefix of one queue: on a cluster each queue has its own hash tag, `{prefix:q:<queue>}`. */
    queuePrefixFor: (queue: string) => (cluster ? `{${prefix}:q:${queue}}` : `${prefix}:q`),
    /** SCAN patterns that match every key under this prefix (a cluster adds the tagged forms). */
    scanPatterns: (): string[] => (cluster ? [`${prefix}:*`, `{${prefix}}:*`, `{${prefix}:q:*`] : [`${prefix}:*`]),
    meta: (name: string) => k('meta', name),

    alert: (id: string) => a('alert', id),
    alertIndex: () => k('alerts'),
    alertSlug: (slug: string) => k('alert-slug', slug),
    rendered: (alertId: string, channel: string) => a('rendered', alertId, channel),
    /** Hash: one delivery's fan-out state (cursor, counts, times); `deliveryId` is the alert id or `<id>@v<n>`. */
    publication: (deliveryId: string) => a('pub', deliveryId),
    /** String (JSON): the alert is halted; deliveries of versions up to `version` send nothing more. */
    halt: (alertId: string) => a('halt', alertId),

    /**
     * The public record. Hash: version number -> JSON of that published version (append-only). The
     * versions and the three public-index keys below are written together by one script; on a
     * cluster they share the `{prefix}` slot.
     */
    versions: (alertId: string) => k('public', 'versions', alertId),
    /** Hash: alert id -> JSON summary of its latest public version (what lists, feeds and links need). */
    publicEntries: () => k('public', 'entries'),
    /** Hash: slug -> alert id, for published alerts only. A draft's slug is never here. */
    publicSlugs: () => k('public', 'slugs'),
    /** Counter, incremented whenever anything public changes: caches compare it. */
    publicGeneration: () => k('public', 'generation'),

    subscriberSeq: () => k('sub', 'seq'),
    subscriber: (id: number) => k('sub', id),
    /** Hash: normalised address -> subscriber id, for the addresses in this one's bucket. */
    subscriberByEmail: (normalisedEmail: string) => k('sub', 'by-email', emailBucket(normalisedEmail)),
    /** Set of keyed hashes of addresses never to be mailed or imported again. Never the address itself. */
    suppressed: () => k('suppressed'),
    /** String (JSON, with TTL): the subscription request awaiting confirmation for this subscriber. */
    subscriptionPending: (id: number) => k('sub', id, 'pending'),
    /** Sorted set: subscriber id -> epoch ms after which the unconfirmed record is deleted. */
    pendingExpiry: () => k('sub', 'pending-expiry'),
    /** Hash: bounce kind (hard, soft, complaint) -> count, for one subscriber. */
    subscriberBounces: (id: number) => k('sub', id, 'bounces'),
    /** Bitfield (2 bits per subscriber id, expires): what one CSV import run did to each record. */
    importRun: (runId: string) => k('import-run', runId),
    /** Counter with TTL for a rate limit; `subject` is a keyed hash, never a raw IP or address. */
    rateLimit: (kind: string, subject: string) => k('rl', kind, subject),
    /** Counter with TTL: failed sign-ins or bearer tokens in one bucket (ip, token prefix, login form); `subject` is a keyed hash. */
    authFailures: (bucket: string, subject: string) => k('auth-fail', bucket, subject),
    /** Marker with TTL: a confirmation mail went to this (keyed-hashed) address in this window. */
    confirmationSent: (addressHash: string) => k('confirm-sent', addressHash),
    /** Marker with TTL: a bounce webhook message already processed (replay and retry guard). */
    webhookSeen: (provider: string, messageId: string) => k('webhook-seen', provider, messageId),

    /** Hash: target -> ledger entry (JSON). One per (alert, channel). */
    ledger: (alertId: string, channel: string) => a('ledger', alertId, channel),
    /** Hash: `${channel}|${state}` -> count, plus `${channel}|total`. */
    counts: (alertId: string) => a('counts', alertId),
    /** Sorted set of `${channel}|${target}` with a failed or unknown outcome, by time. */
    problems: (alertId: string) => a('counts', alertId, 'problems'),
    /** Set of channels that have ledger entries for this alert. */
    channels: (alertId: string) => a('channels', alertId),
    /** Stream of delivery events for one alert (capped). */
    events: (alertId: string) => a('events', alertId),
    /** Stream of every alert's lifecycle events (capped). */
    activity: () => k('activity'),
    /**
     * Hash of one thread's parts for (alert, channel): field `<index>` -> the posted part (JSON),
     * and `inflight` -> the part being posted now, so a thread resumes after a crash without a repeat.
     */
    threadParts: (alertId: string, channel: string) => a('thread', alertId, channel),
    /** Hash: channel -> refreshed OAuth tokens (JSON). */
    socialTokens: () => k('social-tokens'),
    /** Hash: channel -> health JSON. */
    channelHealth: () => k('channel-health'),

    /** Stream (capped, expires): wakes one server process's live-progress reader when its streams change. */
    liveStreamWake: (processId: string) => k('live-wake', processId),
    /** String (JSON, with expiry): one console session. */
    consoleSession: (sessionId: string) => k('console-session', sessionId),
    /** List of JSON audit entries for one alert: who wrote, approved, published, retried it. */
    audit: (alertId: string) => a('audit', alertId),
    /** Hash: `${channel}|${result}|${le}` -> count, `...|sum` -> seconds: send latency, summed over every worker. */
    sendLatency: () => k('metrics', 'send-latency'),
    /** Hash: channel -> consecutive failures when its "channel.failing" notification was queued. */
    notifyFailing: () => k('notify', 'failing'),
    /** Hash per activity entry being notified: target -> "done", plus `#rounds`. Expires. */
    notifyProgress: (entryId: string) => k('notify', 'progress', entryId),
  };
}
