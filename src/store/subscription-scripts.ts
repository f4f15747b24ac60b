import { defineLua } from './lua.js';

// The Lua scripts of subscriptions (pending requests, rate limits). They live in the store layer
// so that every script is registered on a connection when it is made (src/store/scripts.ts),
// without the store importing the subscription modules that use them.

// KEYS: pending. ARGV: generation. Deletes and returns the request only if the generation matches.
export const takeScript = defineLua(
  'pending_take',
  1,
  `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local ok, req = pcall(cjson.decode, raw)
if not ok or tostring(req.g) ~= ARGV[1] then return false end
redis.call('DEL', KEYS[1])
return raw
`,
);

// KEYS: subscriber, by-email, pending, bounces, expiry zset. ARGV: id, normalised email.
// Deletes the record only if it is still unconfirmed ('s' is the status field in store/subscribers.ts),
// atomically, so a confirmation arriving at the same moment is never lost.
export const expireScript = defineLua(
  'pending_expire',
  5,
  `
redis.call('ZREM', KEYS[5], ARGV[1])
if redis.call('HGET', KEYS[1], 's') ~= 'pending' then return 0 end
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[2]) end
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4])
return 1
`,
);

// KEYS: counter. ARGV: window seconds. Returns {count, ttl}.
export const hitScript = defineLua(
  'rate_limit_hit',
  1,
  `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
`,
);
