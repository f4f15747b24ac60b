import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../errors.js';
import type { AuthLimiter } from './auth-limiter.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison of two secrets of any length. */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * `Authorization: Bearer <TOCSIN_ADMIN_TOKEN>` for every /api route except the public ones. With a
 * limiter, wrong tokens are counted per client network and per token prefix (429 past the limit).
 */
export function bearerAuth(adminToken: string | undefined, limiter?: AuthLimiter) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const given = bearerToken(request);
    if (!given) throw errors.UNAUTHORIZED();
    if (!(await checkSecret(limiter, request.ip, given, adminToken))) throw errors.UNAUTHORIZED();
    request.actor = 'admin-token';
  };
}

export const bearerToken = (request: FastifyRequest): string | undefined => /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];

/**
 * Compares a presented secret in constant time, through the limiter when there is one: refused
 * with 429 while its client or its prefix is locked out (even when right), counted when wrong.
 */
export async function checkSecret(limiter: AuthLimiter | undefined, ip: string, given: string, expected: string | undefined): Promise<boolean> {
  const attempt = { ip, presented: given };
  await limiter?.admit(attempt);
  const ok = expected !== undefined && secretsEqual(given, expected);
  if (ok) await limiter?.succeeded(attempt);
  return ok;
}

declare module 'fastify' {
  interface FastifyRequest {
    actor?: string;
  }
}
