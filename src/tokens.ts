import { createHmac, timingSafeEqual } from 'node:crypto';

// Signed, expiring tokens for links in emails: base64url(payload).base64url(HMAC-SHA256).
// The payload names the purpose, so an unsubscribe token cannot confirm or change preferences.

export const TOKEN_PURPOSES = ['confirm', 'unsubscribe', 'preferences'] as const;
export type TokenPurpose = (typeof TOKEN_PURPOSES)[number];

export interface TokenPayload {
  p: TokenPurpose;
  /** Subscriber id. */
  s: number;
  /** Expiry, epoch seconds. */
  e: number;
  /** Subscription generation: a re-subscription makes older confirm tokens useless. */
  g?: number;
}

export type TokenCheck = { ok: true; payload: TokenPayload } | { ok: false; reason: 'malformed' | 'bad-signature' | 'expired' | 'wrong-purpose' };

const mac = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest();

export function signToken(secret: string, payload: TokenPayload): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${mac(secret, body).toString('base64url')}`;
}

export function verifyToken(secret: string, token: string, purpose: TokenPurpose, now = Date.now()): TokenCheck {
  if (typeof token !== 'string' || token.length > 512 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) return { ok: false, reason: 'malformed' };
  const [body, signature] = token.split('.');
  const expected = mac(secret, body);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad-signature' };
  let payload: TokenPayload;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenPayload;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof payload.s !== 'number' || typeof payload.e !== 'number' || typeof payload.p !== 'string') return { ok: false, reason: 'malformed' };
  if (payload.p !== purpose) return { ok: false, reason: 'wrong-purpose' };
  if (payload.e * 1000 < now) return { ok: false, reason: 'expired' };
  return { ok: true, payload };
}

export const TOKEN_LIFETIME_S: Record<TokenPurpose, number> = {
  confirm: 3 * 24 * 3600,
  // Links in alert emails must keep working for as long as someone might click them.
  unsubscribe: 400 * 24 * 3600,
  preferences: 400 * 24 * 3600,
};

export function tokenFor(secret: string, purpose: TokenPurpose, subscriberId: number, now = Date.now(), generation?: number): string {
  return signToken(secret, { p: purpose, s: subscriberId, e: Math.floor(now / 1000) + TOKEN_LIFETIME_S[purpose], ...(generation ? { g: generation } : {}) });
}
