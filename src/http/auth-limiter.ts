import type { Context } from '../context.js';
import { errors, withRetryAfter } from '../errors.js';
import { admitScript, refundScript } from '../store/auth-scripts.js';
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
    const [index, ttl] = (await admitScript.run(
      this.ctx.redis,
      subjects.map((s) => s.key),
      [subjects.length, ...subjects.map((s) => s.max), ...subjects.map((s) => s.windowS)],
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
    await refundScript.run(
      this.ctx.redis,
      subjects.map((s) => s.key),
      [],
    );
  }
}
