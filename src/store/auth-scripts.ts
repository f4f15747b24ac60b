import { defineLua } from './lua.js';

// The failed-attempt counters of sign-in and bearer tokens (src/http/auth-limiter.ts).

// KEYS: counters. ARGV: n, then max per key, then window seconds per key. If any bucket is full,
// returns {index, ttl} of the first full one and counts nothing; otherwise counts the attempt in
// every bucket (a success gives it back) and returns {0}. Check and count are one step, so a burst
// of parallel guesses cannot all pass the check before any of them is counted.
export const admitScript = defineLua(
  'auth_admit',
  'any',
  `
local n = tonumber(ARGV[1])
for i = 1, n do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count >= tonumber(ARGV[1 + i]) then
    local ttl = redis.call('TTL', KEYS[i])
    return {i, ttl}
  end
end
for i = 1, n do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 or redis.call('TTL', KEYS[i]) < 0 then redis.call('EXPIRE', KEYS[i], ARGV[1 + n + i]) end
end
return {0}
`,
);

// KEYS: counters. Gives back one attempt where one was counted; the expiry stays.
export const refundScript = defineLua(
  'auth_refund',
  'any',
  `
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 1
`,
);
