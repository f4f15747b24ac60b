import type { Keys } from './keys.js';
import { defineLua, type RedisClient } from './lua.js';

// The delivery ledger: one entry per (alert, channel, target). Every state change goes through
// a Lua script so the entry, the per-alert counters and the event stream never disagree.

export const DELIVERY_STATES = ['queued', 'sending', 'retrying', 'sent', 'failed', 'unknown', 'skipped'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export interface LedgerEntry {
  state: DeliveryState;
  /** Skipped by a halt (a resume re-queues it). */
  halted?: boolean;
  attempts: number;
  updatedAt: number;
  providerId?: string;
  url?: string;
  error?: string;
  retryAt?: number;
}

export interface Outcome {
  target: string;
  state: Exclude<DeliveryState, 'queued' | 'sending'>;
  providerId?: string;
  url?: string;
  error?: string;
  retryAt?: number;
  /** Skipped because the alert was halted: a resume sends it after all. */
  halted?: boolean;
}

export interface Claimed {
  target: string;
  attempts: number;
  /**
   * True when the entry was `sending` under another attempt's token: that attempt died or lost its
   * lock, and may or may not have sent. Email sends again (bounded duplicates, same Message-ID);
   * a thread looks at its per-part record first.
   */
  resumed: boolean;
}

export type ChannelCounts = Record<DeliveryState | 'total', number>;
export interface AlertCounts {
  channels: Record<string, ChannelCounts>;
  totals: ChannelCounts;
  outstanding: number;
}

// Compact stored form: {s, a, t, id, u, e, r, o}. Short keys keep 100k-entry ledgers small.
// `o` is the fencing token of the processing attempt that holds an entry in `sending`: BullMQ's
// lock token, new for every attempt. Only that attempt may settle the entry, so a worker that
// froze past its lock and woke up cannot overwrite what the attempt that took over recorded.
const COMMON_LUA = `
local function bump(counts, channel, state, by)
  redis.call('HINCRBY', counts, channel .. '|' .. state, by)
  redis.call('HINCRBY', counts, 'all|' .. state, by)
end
local final = {sent = true, failed = true, unknown = true, skipped = true}
`;

// KEYS: ledger, counts, channels, events. ARGV: channel, now, maxEvents, target...
const enqueueScript = defineLua(
  'ledger_enqueue',
  4,
  `${COMMON_LUA}
local added = 0
local entry = cjson.encode({s = 'queued', a = 0, t = tonumber(ARGV[2])})
for i = 4, #ARGV do
  added = added + redis.call('HSETNX', KEYS[1], ARGV[i], entry)
end
if added > 0 then
  bump(KEYS[2], ARGV[1], 'queued', added)
  bump(KEYS[2], ARGV[1], 'total', added)
  redis.call('HINCRBY', KEYS[2], 'outstanding', added)
  redis.call('SADD', KEYS[3], ARGV[1])
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*', 'type', 'queued', 'channel', ARGV[1], 'n', added)
end
return added
`,
);

// KEYS: ledger, counts. ARGV: channel, now, token, target...
// queued/retrying -> sending under this token. An entry already `sending` under another token is
// taken over (resumed = 1): BullMQ hands a job to a new attempt only once the old lock expired.
// Returns flat {target, attempts, resumed(0|1), ...}.
const claimScript = defineLua(
  'ledger_claim',
  2,
  `${COMMON_LUA}
local out = {}
for i = 4, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  if raw then
    local e = cjson.decode(raw)
    local take = false
    local resumed = 0
    if e.s == 'queued' or e.s == 'retrying' then
      bump(KEYS[2], ARGV[1], e.s, -1)
      bump(KEYS[2], ARGV[1], 'sending', 1)
      take = true
    elseif e.s == 'sending' then
      take = true
      if e.o ~= ARGV[3] then resumed = 1 end
    end
    if take then
      e.s = 'sending'
      e.a = (e.a or 0) + 1
      e.o = ARGV[3]
      e.t = tonumber(ARGV[2])
      redis.call('HSET', KEYS[1], ARGV[i], cjson.encode(e))
      out[#out + 1] = ARGV[i]
      out[#out + 1] = e.a
      out[#out + 1] = resumed
    end
  end
end
return out
`,
);

// KEYS: ledger, counts, events, problems. ARGV: channel, now, token, maxEvents, outcomesJson
// Applies outcomes only to entries this token holds in 'sending'. Returns the targets applied.
const settleScript = defineLua(
  'ledger_settle',
  4,
  `${COMMON_LUA}
local outcomes = cjson.decode(ARGV[5])
local applied = {}
local tally = {}
for _, o in ipairs(outcomes) do
  local raw = redis.call('HGET', KEYS[1], o.target)
  if raw then
    local e = cjson.decode(raw)
    if e.s == 'sending' and e.o == ARGV[3] then
      e.s = o.state
      e.t = tonumber(ARGV[2])
      e.id = o.providerId
      e.u = o.url
      e.e = o.error
      e.r = o.retryAt
      e.h = o.halted and 1 or nil
      e.o = nil
      redis.call('HSET', KEYS[1], o.target, cjson.encode(e))
      bump(KEYS[2], ARGV[1], 'sending', -1)
      bump(KEYS[2], ARGV[1], o.state, 1)
      if final[o.state] then redis.call('HINCRBY', KEYS[2], 'outstanding', -1) end
      tally[o.state] = (tally[o.state] or 0) + 1
      if o.state == 'failed' or o.state == 'unknown' then
        redis.call('ZADD', KEYS[4], tonumber(ARGV[2]), ARGV[1] .. '|' .. o.target)
        redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'type', o.state, 'channel', ARGV[1], 'target', o.target, 'error', o.error or '')
      end
      applied[#applied + 1] = o.target
    end
  end
end
local fields = {'type', 'progress', 'channel', ARGV[1]}
for state, n in pairs(tally) do
  fields[#fields + 1] = state
  fields[#fields + 1] = n
end
if #applied > 0 then redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', unpack(fields)) end
return applied
`,
);

// KEYS: ledger, counts. ARGV: channel, now, token, target...
// sending under this token -> queued: a batch that gives way to an emergency hands back the
// recipients it claimed but never handed to the SMTP server. Entries another attempt holds stay.
const releaseScript = defineLua(
  'ledger_release',
  2,
  `${COMMON_LUA}
local released = 0
for i = 4, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  if raw then
    local e = cjson.decode(raw)
    if e.s == 'sending' and e.o == ARGV[3] then
      e.s = 'queued'
      e.o = nil
      e.a = math.max(0, (e.a or 1) - 1)
      e.t = tonumber(ARGV[2])
      redis.call('HSET', KEYS[1], ARGV[i], cjson.encode(e))
      bump(KEYS[2], ARGV[1], 'sending', -1)
      bump(KEYS[2], ARGV[1], 'queued', 1)
      released = released + 1
    end
  end
end
return released
`,
);

// KEYS: ledger, counts, events, problems. ARGV: channel, now, maxEvents, fromState, toState, note, halt, target...
// Moves entries in fromState to toState: failed/unknown -> queued (retry, resend), unknown -> sent
// (confirmed by hand), queued/retrying -> skipped (halt: `halt` = 'mark'), skipped -> queued
// (resume: `halt` = 'only', entries a halt skipped). Entries `sending` are never touched.
const reopenScript = defineLua(
  'ledger_reopen',
  4,
  `${COMMON_LUA}
local moved = {}
for i = 8, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  if raw then
    local e = cjson.decode(raw)
    if e.s == ARGV[4] and (ARGV[7] ~= 'only' or e.h == 1) then
      e.s = ARGV[5]
      e.t = tonumber(ARGV[2])
      e.r = nil
      e.h = nil
      if ARGV[7] == 'mark' then e.h = 1 end
      if ARGV[5] == 'queued' then e.e = nil end
      if ARGV[6] ~= '' then e.e = ARGV[6] end
      redis.call('HSET', KEYS[1], ARGV[i], cjson.encode(e))
      bump(KEYS[2], ARGV[1], ARGV[4], -1)
      bump(KEYS[2], ARGV[1], ARGV[5], 1)
      if final[ARGV[4]] and not final[ARGV[5]] then redis.call('HINCRBY', KEYS[2], 'outstanding', 1) end
      if final[ARGV[5]] and not final[ARGV[4]] then redis.call('HINCRBY', KEYS[2], 'outstanding', -1) end
      redis.call('ZREM', KEYS[4], ARGV[1] .. '|' .. ARGV[i])
      moved[#moved + 1] = ARGV[i]
    end
  end
end
if #moved > 0 then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'type', 'reopened', 'channel', ARGV[1], 'from', ARGV[4], 'to', ARGV[5], 'n', #moved)
end
return moved
`,
);

function decodeEntry(raw: string): LedgerEntry {
  const e = JSON.parse(raw) as { s: DeliveryState; a: number; t: number; id?: string; u?: string; e?: string; r?: number; h?: number };
  return {
    state: e.s,
    ...(e.h ? { halted: true } : {}),
    attempts: e.a,
    updatedAt: e.t,
    ...(e.id ? { providerId: e.id } : {}),
    ...(e.u ? { url: e.u } : {}),
    ...(e.e ? { error: e.e } : {}),
    ...(e.r ? { retryAt: e.r } : {}),
  };
}

export function emptyCounts(): ChannelCounts {
  return { queued: 0, sending: 0, retrying: 0, sent: 0, failed: 0, unknown: 0, skipped: 0, total: 0 };
}

/** Moves the ledger allows outside a send: retry, resend, confirm by hand, halt, resume. */
export type Reopen =
  | { from: 'failed' | 'unknown'; to: 'queued' }
  | { from: 'unknown'; to: 'sent' }
  | { from: 'queued' | 'retrying'; to: 'skipped'; halted: true }
  | { from: 'skipped'; to: 'queued'; halted: true };

/**
 * WAIT after claim and settle writes: Redis replicates asynchronously, so a failover can lose the
 * last writes the old primary acknowledged. A lost claim or a lost `sent` would let the message go
 * out again (README "Redis Cluster and Sentinel"). `replicas` 0: no WAIT.
 */
export interface ReplicaWait {
  replicas: number;
  timeoutMs: number;
  /** Called when fewer replicas confirmed in time than asked for (the send goes on). */
  onShort?: (acked: number) => void;
}

/** After a WAIT that fell short, this long without WAIT before trying again. */
const SHORT_WAIT_BACKOFF_MS = 5000;

export class Ledger {
  /** WAITs that returned fewer replicas than asked for (a replica down or slow). */
  shortWaits = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly maxEvents: number,
    private readonly wait: ReplicaWait = { replicas: 0, timeoutMs: 0 },
  ) {}

  private waiting?: Promise<void>;
  private next?: Promise<void>;
  private skipUntil = 0;

  /**
   * Holds until `replicas` replicas have this connection's writes so far, or the timeout. WAIT
   * blocks the (shared) connection, so concurrent callers share one: a caller arriving while one
   * is out joins the next, which covers its write too. When replicas fall short (none left after
   * a failover, until the old primary returns as a replica), WAIT is skipped for a while rather
   * than stalling every send for the timeout.
   */
  private replicated(): Promise<void> {
    if (this.wait.replicas <= 0 || Date.now() < this.skipUntil) return Promise.resolve();
    if (!this.waiting) return (this.waiting = this.waitOnce().finally(() => (this.waiting = undefined)));
    return (this.next ??= this.waiting.then(() => {
      this.next = undefined;
      return this.replicated();
    }));
  }

  private async waitOnce(): Promise<void> {
    try {
      const acked = Number(await this.redis.call('WAIT', this.wait.replicas, this.wait.timeoutMs));
      if (acked < this.wait.replicas) {
        this.shortWaits++;
        this.skipUntil = Date.now() + SHORT_WAIT_BACKOFF_MS;
        this.wait.onShort?.(acked);
      }
    } catch {
      // The connection failed over: the write itself either failed (and the caller sees it) or
      // went to the old primary; nothing more to do here.
    }
  }

  /** Adds targets as `queued`; targets already in the ledger are left exactly as they are. */
  async enqueue(alertId: string, channel: string, targets: string[]): Promise<number> {
    if (targets.length === 0) return 0;
    const k = this.keys;
    return (await enqueueScript.run(
      this.redis,
      [k.ledger(alertId, channel), k.counts(alertId), k.channels(alertId), k.events(alertId)],
      [channel, Date.now(), this.maxEvents, ...targets],
    )) as number;
  }

  /**
   * Hands back, as `queued`, targets this attempt claimed and never tried (not an attempt: the
   * count goes back down). Only entries still `sending` under `token` move.
   */
  async release(alertId: string, channel: string, token: string, targets: string[]): Promise<number> {
    if (targets.length === 0) return 0;
    const k = this.keys;
    return (await releaseScript.run(this.redis, [k.ledger(alertId, channel), k.counts(alertId)], [channel, Date.now(), token, ...targets])) as number;
  }

  /** Deliveries of one channel queued or being sent: how far a fan-out is ahead of the senders. */
  async pending(alertId: string, channel: string): Promise<number> {
    const [queued, sending] = await this.redis.hmget(this.keys.counts(alertId), `${channel}|queued`, `${channel}|sending`);
    return Number(queued ?? 0) + Number(sending ?? 0);
  }

  /** Marks as `sending` under `token` every target that still needs sending, and returns them. */
  async claim(alertId: string, channel: string, token: string, targets: string[]): Promise<Claimed[]> {
    if (targets.length === 0) return [];
    const flat = (await claimScript.run(
      this.redis,
      [this.keys.ledger(alertId, channel), this.keys.counts(alertId)],
      [channel, Date.now(), token, ...targets],
    )) as Array<string | number>;
    if (flat.length) await this.replicated();
    const claimed: Claimed[] = [];
    for (let i = 0; i < flat.length; i += 3) {
      claimed.push({ target: String(flat[i]), attempts: Number(flat[i + 1]), resumed: Number(flat[i + 2]) === 1 });
    }
    return claimed;
  }

  /** Records outcomes for targets `token` holds. Returns the targets applied; the rest were lost to another attempt. */
  async settle(alertId: string, channel: string, token: string, outcomes: Outcome[]): Promise<string[]> {
    if (outcomes.length === 0) return [];
    const k = this.keys;
    const applied = (await settleScript.run(
      this.redis,
      [k.ledger(alertId, channel), k.counts(alertId), k.events(alertId), k.problems(alertId)],
      [channel, Date.now(), token, this.maxEvents, JSON.stringify(outcomes)],
    )) as string[];
    if (applied.length) await this.replicated();
    return applied;
  }

  /** See Reopen. `note` replaces the entry's reason ("confirmed by hand", "halted by …"). */
  async reopen(alertId: string, channel: string, targets: string[], move: Reopen, note = ''): Promise<string[]> {
    if (targets.length === 0) return [];
    const k = this.keys;
    return (await reopenScript.run(
      this.redis,
      [k.ledger(alertId, channel), k.counts(alertId), k.events(alertId), k.problems(alertId)],
      [channel, Date.now(), this.maxEvents, move.from, move.to, note, 'halted' in move ? (move.to === 'skipped' ? 'mark' : 'only') : '', ...targets],
    )) as string[];
  }

  async get(alertId: string, channel: string, target: string): Promise<LedgerEntry | null> {
    const raw = await this.redis.hget(this.keys.ledger(alertId, channel), target);
    return raw ? decodeEntry(raw) : null;
  }

  async getMany(alertId: string, channel: string, targets: string[]): Promise<Array<LedgerEntry | null>> {
    if (targets.length === 0) return [];
    const raws = await this.redis.hmget(this.keys.ledger(alertId, channel), ...targets);
    return raws.map((raw) => (raw ? decodeEntry(raw) : null));
  }

  /** Every entry of one channel, in pages (HSCAN), for exports and retries. */
  async *entries(alertId: string, channel: string): AsyncGenerator<[string, LedgerEntry]> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.ledger(alertId, channel), cursor, 'COUNT', 1000);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) yield [flat[i], decodeEntry(flat[i + 1])];
    } while (cursor !== '0');
  }

  async targetsInState(alertId: string, channel: string, ...states: DeliveryState[]): Promise<string[]> {
    const out: string[] = [];
    for await (const [target, entry] of this.entries(alertId, channel)) if (states.includes(entry.state)) out.push(target);
    return out;
  }

  async channels(alertId: string): Promise<string[]> {
    return (await this.redis.smembers(this.keys.channels(alertId))).sort();
  }

  async counts(alertId: string): Promise<AlertCounts> {
    const raw = await this.redis.hgetall(this.keys.counts(alertId));
    const result: AlertCounts = { channels: {}, totals: emptyCounts(), outstanding: Number(raw.outstanding ?? 0) };
    for (const [field, value] of Object.entries(raw)) {
      const bar = field.lastIndexOf('|');
      if (bar < 0) continue;
      const channel = field.slice(0, bar);
      const state = field.slice(bar + 1) as keyof ChannelCounts;
      const bucket = channel === 'all' ? result.totals : (result.channels[channel] ??= emptyCounts());
      bucket[state] = Number(value);
    }
    return result;
  }

  /** Failed and unknown deliveries, oldest first, with their entries. */
  async problems(alertId: string, limit = 100): Promise<Array<{ channel: string; target: string; entry: LedgerEntry }>> {
    const members = await this.redis.zrange(this.keys.problems(alertId), 0, String(limit - 1)); // ioredis 6 types `stop` as a string
    const parsed = members.map((m) => {
      const bar = m.lastIndexOf('|');
      return { channel: m.slice(0, bar), target: m.slice(bar + 1) };
    });
    const raws = await Promise.all(parsed.map((p) => this.redis.hget(this.keys.ledger(alertId, p.channel), p.target)));
    return parsed
      .map((p, i) => ({ ...p, raw: raws[i] }))
      .filter((p): p is typeof p & { raw: string } => Boolean(p.raw))
      .map((p) => ({ channel: p.channel, target: p.target, entry: decodeEntry(p.raw) }));
  }
}
