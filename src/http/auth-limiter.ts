import type { Context } from '../context.js';
import { errors, withRetryAfter } from '../errors.js';
import { ipSubject, keyedHash } from '../subscriptions/keyed-hash.js';

// Failed sign-ins and wrong bearer tokens are counted per client network and per token prefix,
// in Redis so every API process shares the counts. Once a bucket is full every attempt it covers
// is refused with 429 and Retry-After, right ones included: otherwise the answer would still tell a
// right guess from a wrong one. Buckets expire with their window (a fixed window from the first
// failure). Keys hold keyed hashes only: never an IP, a token or a token's first characters.

type Ctx = Pick<Context, 'redis' | 'keys' | 'secret' | 'config'>;

export type AuthBucket = 'ip' | 'prefix' | 'form';

interface Subject {
  bucket: AuthBucket;
  key: string;
  max: number;
  windowS: number;
}

// KEYS: counters. ARGV: n, then max per key, then window seconds per key. If any bucket is full,
// returns {index, ttl} of the first full one and counts nothing; otherwise counts the attempt in
// every bucket (a success gives it back) and returns {0}. Check and count are one step, so a burst
// of parallel guesses cannot all pass the check before any of them is counted.
const ADMIT_LUA = `
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
`;

// KEYS: counters. Gives back one attempt where one was counted; the expiry stays.
const REFUND_LUA = `
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 1
`;

const WHY: Record<AuthBucket, string> = {
  ip: 'too many failed sign-in attempts from your network',
  prefix: 'too many failed attempts with tokens that start like this one',
  form: 'this sign-in form was already used for a failed attempt; reload the page and try again',
};

export interface Attempt {
  ip: string;
  /** The token (or password) presented, if any; only a keyed hash of its first characters is kept. */
  presented?: string;
  /** The login form's CSRF secret: one form serves one failed attempt. */
  formSecret?: string;
}

export class AuthLimiter {
  constructor(private readonly ctx: Ctx) {}

  private subjects(attempt: Attempt): Subject[] {
    const { secret, keys, config } = this.ctx;
    const limits = config.authLimits;
    const out: Subject[] = [{ bucket: 'ip', key: keys.authFailures('ip', keyedHash(secret, 'auth-ip', ipSubject(attempt.ip))), ...limits.perIp }];
    if (attempt.presented)
      out.push({
        bucket: 'prefix',
        key: keys.authFailures('prefix', keyedHash(secret, 'auth-prefix', attempt.presented.slice(0, limits.prefixChars))),
        ...limits.perTokenPrefix,
      });
    if (attempt.formSecret)
      out.push({ bucket: 'form', key: keys.authFailures('form', keyedHash(secret, 'auth-form', attempt.formSecret)), max: 1, windowS: limits.perIp.windowS });
    return out;
  }

  /**
   * Before the credentials are compared: throws 429 (403 for a used sign-in form) with Retry-After
   * when a bucket is full, otherwise counts the attempt as a failure until `succeeded` gives it back.
   */
  async admit(attempt: Attempt): Promise<void> {
    const subjects = this.subjects(attempt);
    const [index, ttl] = (await this.ctx.redis.eval(
      ADMIT_LUA,
      subjects.length,
      ...subjects.map((s) => s.key),
      subjects.length,
      ...subjects.map((s) => s.max),
      ...subjects.map((s) => s.windowS),
    )) as [number, number?];
    if (index === 0) return;
    const full = subjects[index - 1];
    if (full.bucket === 'form') throw withRetryAfter(errors.FORBIDDEN(WHY.form), 1);
    const wait = ttl && ttl > 0 ? ttl : full.windowS;
    const minutes = Math.max(1, Math.ceil(wait / 60));
    throw withRetryAfter(errors.RATE_LIMITED(`${WHY[full.bucket]}; try again in ${minutes} minute${minutes === 1 ? '' : 's'}`), wait);
  }

  /** The credentials were right: the attempt admit() counted is given back. */
  async succeeded(attempt: Attempt): Promise<void> {
    const subjects = this.subjects(attempt);
    await this.ctx.redis.eval(REFUND_LUA, subjects.length, ...subjects.map((s) => s.key));
  }
}
