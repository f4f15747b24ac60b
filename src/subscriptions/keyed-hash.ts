import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import { normaliseEmail } from '../domain/subscriber.js';

// Keyed hashes (HMAC with TOCSIN_SECRET) stand in for addresses and IPs wherever Tocsin only needs
// to recognise a value again: nobody holding a Redis dump can reverse them or test guesses
// without the secret. Each use has its own label so one hash cannot be matched against another.

export type HashPurpose = 'rate-address' | 'rate-ip' | 'confirm-window' | 'auth-ip' | 'auth-prefix' | 'auth-form';

export function keyedHash(secret: string, purpose: HashPurpose, value: string): string {
  return createHmac('sha256', secret).update(`${purpose}:${value}`).digest('base64url').slice(0, 32);
}

export const addressHash = (secret: string, purpose: HashPurpose, email: string): string => keyedHash(secret, purpose, normaliseEmail(email));

/**
 * IPv4 as is; IPv6 by its /64, which is what one customer usually gets, so rotating through
 * addresses inside one allocation does not escape the per-IP limit.
 */
export function ipSubject(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (isIP(ip) !== 6) return ip;
  const [head, tail = ''] = ip.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const full = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${full
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
