import type { Keys } from './keys.js';
import { defineLua, type RedisClient } from './lua.js';
import type { PostedPart } from '../channels/messenger.js';

// The per-part record of one thread on one account. Before part i is posted, `inflight` names it;
// once the provider accepted it, field i holds it and `inflight` is cleared. After a crash the
// next attempt knows exactly where it stands: parts 0..k-1 are posted, and part k was either never
// started (no `inflight`) or may have reached the provider (`inflight` = k) and must be looked up.
// Both writes are fenced: they apply only while the ledger entry is `sending` under the caller's
// token, so a worker that lost its lock cannot start or record a part.

// KEYS: ledger, parts. ARGV: target, token, index, now
const beginScript = defineLua(
  'thread_begin_part',
  2,
  `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local e = cjson.decode(raw)
if e.s ~= 'sending' or e.o ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], 'inflight', cjson.encode({i = tonumber(ARGV[3]), at = tonumber(ARGV[4])}))
return 1
`,
);

// KEYS: ledger, parts. ARGV: target, token, index, partJson
const recordScript = defineLua(
  'thread_record_part',
  2,
  `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local e = cjson.decode(raw)
if e.s ~= 'sending' or e.o ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('HDEL', KEYS[2], 'inflight')
return 1
`,
);

// KEYS: ledger, parts. ARGV: target, token, index
const clearScript = defineLua(
  'thread_clear_inflight',
  2,
  `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local e = cjson.decode(raw)
if e.s ~= 'sending' or e.o ~= ARGV[2] then return 0 end
local inflight = redis.call('HGET', KEYS[2], 'inflight')
if inflight and cjson.decode(inflight).i == tonumber(ARGV[3]) then redis.call('HDEL', KEYS[2], 'inflight') end
return 1
`,
);

export interface ThreadRecord {
  /** Parts the provider accepted, in order (0..k-1). */
  posted: PostedPart[];
  /** A part that was being posted when the last attempt stopped: it may exist at the provider. */
  inflight?: number;
}

export class ThreadParts {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  async read(deliveryId: string, channel: string): Promise<ThreadRecord> {
    const raw = await this.redis.hgetall(this.keys.threadParts(deliveryId, channel));
    const posted: PostedPart[] = [];
    for (let i = 0; raw[String(i)] !== undefined; i++) posted.push(JSON.parse(raw[String(i)]) as PostedPart);
    const inflight = raw.inflight ? (JSON.parse(raw.inflight) as { i: number }).i : undefined;
    return { posted, ...(inflight !== undefined && inflight >= posted.length ? { inflight } : {}) };
  }

  /** Marks part `index` as being posted. False: the token no longer holds the delivery. */
  async begin(deliveryId: string, channel: string, target: string, token: string, index: number): Promise<boolean> {
    const k = this.keys;
    return (await beginScript.run(this.redis, [k.ledger(deliveryId, channel), k.threadParts(deliveryId, channel)], [target, token, index, Date.now()])) === 1;
  }

  /** Part `index` surely did not reach the provider. False: the token no longer holds the delivery. */
  async clear(deliveryId: string, channel: string, target: string, token: string, index: number): Promise<boolean> {
    const k = this.keys;
    return (await clearScript.run(this.redis, [k.ledger(deliveryId, channel), k.threadParts(deliveryId, channel)], [target, token, index])) === 1;
  }

  /** Records part `index` as accepted by the provider. False: the token no longer holds the delivery. */
  async record(deliveryId: string, channel: string, target: string, token: string, index: number, part: PostedPart): Promise<boolean> {
    const k = this.keys;
    return (
      (await recordScript.run(
        this.redis,
        [k.ledger(deliveryId, channel), k.threadParts(deliveryId, channel)],
        [target, token, index, JSON.stringify(part)],
      )) === 1
    );
  }
}
