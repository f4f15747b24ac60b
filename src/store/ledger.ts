import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

// The delivery ledger: one entry per (alert, channel, target). Every state change goes through
// a Lua script so the entry, the per-alert counters and the event stream never disagree.

export const DELIVERY_STATES = ['queued', 'sending', 'retrying', 'sent', 'failed', 'unknown', 'skipped'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];
export const FINAL_STATES: readonly DeliveryState[] = ['sent', 'failed', 'unknown', 'skipped'];

/** What to do with an entry found in `sending` by the job that owns it (its earlier run died). */
export type StaleSendingPolicy = 'resend' | 'unknown';

export interface LedgerEntry {
  state: DeliveryState;
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
}

export interface Claimed {
  target: string;
  attempts: number;
  /** True when this target was already being sent by an earlier run of the same job. */
  resumed: boolean;
}

export type ChannelCounts = Record<DeliveryState | 'total', number>;
export interface AlertCounts {
  channels: Record<string, ChannelCounts>;
  totals: ChannelCounts;
  outstanding: number;
}

// Compact stored form: {s, a, t, id, u, e, r}. Short keys keep 100k-entry ledgers small.
const COMMON_LUA = `
local function bump(counts, channel, state, by)
  redis.call('HINCRBY', counts, channel .. '|' .. state, by)
  redis.call('HINCRBY', counts, 'all|' .. state, by)
end
local final = {sent = true, failed = true, unknown = true, skipped = true}
`;

// KEYS: ledger, counts, channels, events. ARGV: channel, now, maxEvents, target...
const ENQUEUE_LUA = `${COMMON_LUA}
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
`;

// KEYS: ledger, counts, events. ARGV: channel, now, owner, stalePolicy, maxEvents, target...
// Returns flat {target, attempts, resumed(0|1), ...} for entries this caller may now send.
const CLAIM_LUA = `${COMMON_LUA}
local out = {}
local gaveUp = 0
for i = 6, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  if raw then
    local e = cjson.decode(raw)
    local take = false
    local resumed = 0
    if e.s == 'queued' or e.s == 'retrying' then
      take = true
    elseif e.s == 'sending' and e.o == ARGV[3] then
      if ARGV[4] == 'resend' then
        take = true
        resumed = 1
      else
        e.s = 'unknown'
        e.e = 'the worker stopped while sending; the provider may have accepted it'
        e.t = tonumber(ARGV[2])
        e.o = nil
        redis.call('HSET', KEYS[1], ARGV[i], cjson.encode(e))
        bump(KEYS[2], ARGV[1], 'sending', -1)
        bump(KEYS[2], ARGV[1], 'unknown', 1)
        redis.call('HINCRBY', KEYS[2], 'outstanding', -1)
        redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'type', 'unknown', 'channel', ARGV[1], 'target', ARGV[i], 'error', e.e)
        gaveUp = gaveUp + 1
      end
    end
    if take then
      if resumed == 0 then
        bump(KEYS[2], ARGV[1], e.s, -1)
        bump(KEYS[2], ARGV[1], 'sending', 1)
      end
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
`;

// KEYS: ledger, counts, events, problems. ARGV: channel, now, owner, maxEvents, outcomesJson
// Applies outcomes only to entries this owner holds in 'sending'. Returns how many applied.
const SETTLE_LUA = `${COMMON_LUA}
local outcomes = cjson.decode(ARGV[5])
local applied = 0
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
      if final[o.state] then e.o = nil end
      redis.call('HSET', KEYS[1], o.target, cjson.encode(e))
      bump(KEYS[2], ARGV[1], 'sending', -1)
      bump(KEYS[2], ARGV[1], o.state, 1)
      if final[o.state] then redis.call('HINCRBY', KEYS[2], 'outstanding', -1) end
      tally[o.state] = (tally[o.state] or 0) + 1
      if o.state == 'failed' or o.state == 'unknown' then
        redis.call('ZADD', KEYS[4], tonumber(ARGV[2]), ARGV[1] .. '|' .. o.target)
        redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'type', o.state, 'channel', ARGV[1], 'target', o.target, 'error', o.error or '')
      end
      applied = applied + 1
    end
  end
end
local fields = {'type', 'progress', 'channel', ARGV[1]}
for state, n in pairs(tally) do
  fields[#fields + 1] = state
  fields[#fields + 1] = n
end
if applied > 0 then redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', unpack(fields)) end
return applied
`;

// KEYS: ledger, counts, events, problems. ARGV: channel, now, maxEvents, fromState, toState, target...
// Moves entries in fromState (failed or unknown) to toState (queued, or sent for a hand-confirmed unknown).
const REOPEN_LUA = `${COMMON_LUA}
local moved = {}
for i = 6, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  if raw then
    local e = cjson.decode(raw)
    if e.s == ARGV[4] then
      e.s = ARGV[5]
      e.t = tonumber(ARGV[2])
      if ARGV[5] == 'queued' then e.e = nil; e.r = nil end
      if ARGV[5] == 'sent' then e.e = 'confirmed by hand' end
      redis.call('HSET', KEYS[1], ARGV[i], cjson.encode(e))
      bump(KEYS[2], ARGV[1], ARGV[4], -1)
      bump(KEYS[2], ARGV[1], ARGV[5], 1)
      if not final[ARGV[5]] then redis.call('HINCRBY', KEYS[2], 'outstanding', 1) end
      redis.call('ZREM', KEYS[4], ARGV[1] .. '|' .. ARGV[i])
      moved[#moved + 1] = ARGV[i]
    end
  end
end
if #moved > 0 then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'type', 'reopened', 'channel', ARGV[1], 'from', ARGV[4], 'to', ARGV[5], 'n', #moved)
end
return moved
`;

const MAX_EVENTS = '20000';

function decodeEntry(raw: string): LedgerEntry {
  const e = JSON.parse(raw) as { s: DeliveryState; a: number; t: number; id?: string; u?: string; e?: string; r?: number };
  return {
    state: e.s,
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

export class Ledger {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  private problemsKey(alertId: string): string {
    return `${this.keys.counts(alertId)}:problems`;
  }

  /** Adds targets as `queued`; targets already in the ledger are left exactly as they are. */
  async enqueue(alertId: string, channel: string, targets: string[]): Promise<number> {
    if (targets.length === 0) return 0;
    const k = this.keys;
    return (await this.redis.eval(
      ENQUEUE_LUA,
      4,
      k.ledger(alertId, channel),
      k.counts(alertId),
      k.channels(alertId),
      k.events(alertId),
      channel,
      Date.now(),
      MAX_EVENTS,
      ...targets,
    )) as number;
  }

  /** Marks as `sending` every target that still needs sending and returns them. */
  async claim(alertId: string, channel: string, owner: string, targets: string[], stale: StaleSendingPolicy): Promise<Claimed[]> {
    if (targets.length === 0) return [];
    const k = this.keys;
    const flat = (await this.redis.eval(
      CLAIM_LUA,
      3,
      k.ledger(alertId, channel),
      k.counts(alertId),
      k.events(alertId),
      channel,
      Date.now(),
      owner,
      stale,
      MAX_EVENTS,
      ...targets,
    )) as Array<string | number>;
    const claimed: Claimed[] = [];
    for (let i = 0; i < flat.length; i += 3) {
      claimed.push({ target: String(flat[i]), attempts: Number(flat[i + 1]), resumed: Number(flat[i + 2]) === 1 });
    }
    return claimed;
  }

  /** Records outcomes for targets this owner claimed. Returns how many were applied. */
  async settle(alertId: string, channel: string, owner: string, outcomes: Outcome[]): Promise<number> {
    if (outcomes.length === 0) return 0;
    const k = this.keys;
    return (await this.redis.eval(
      SETTLE_LUA,
      4,
      k.ledger(alertId, channel),
      k.counts(alertId),
      k.events(alertId),
      this.problemsKey(alertId),
      channel,
      Date.now(),
      owner,
      MAX_EVENTS,
      JSON.stringify(outcomes),
    )) as number;
  }

  /** failed -> queued (retry), unknown -> queued (re-send), unknown -> sent (confirmed by hand). */
  async reopen(alertId: string, channel: string, targets: string[], from: 'failed' | 'unknown', to: 'queued' | 'sent'): Promise<string[]> {
    if (targets.length === 0) return [];
    const k = this.keys;
    return (await this.redis.eval(
      REOPEN_LUA,
      4,
      k.ledger(alertId, channel),
      k.counts(alertId),
      k.events(alertId),
      this.problemsKey(alertId),
      channel,
      Date.now(),
      MAX_EVENTS,
      from,
      to,
      ...targets,
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

  async targetsInState(alertId: string, channel: string, state: DeliveryState): Promise<string[]> {
    const out: string[] = [];
    for await (const [target, entry] of this.entries(alertId, channel)) if (entry.state === state) out.push(target);
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
    const members = await this.redis.zrange(this.problemsKey(alertId), 0, String(limit - 1)); // ioredis 6 types `stop` as a string
    const pipeline = this.redis.pipeline();
    const parsed = members.map((m) => {
      const bar = m.lastIndexOf('|');
      return { channel: m.slice(0, bar), target: m.slice(bar + 1) };
    });
    for (const p of parsed) pipeline.hget(this.keys.ledger(alertId, p.channel), p.target);
    const rows = (await pipeline.exec()) ?? [];
    return parsed
      .map((p, i) => ({ ...p, raw: rows[i]?.[1] as string | null }))
      .filter((p) => p.raw)
      .map((p) => ({ channel: p.channel, target: p.target, entry: decodeEntry(p.raw as string) }));
  }
}
