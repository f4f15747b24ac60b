import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison of two secrets of any length. */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** `Authorization: Bearer <TOCSIN_ADMIN_TOKEN>` for every /api route except the public ones. */
export function bearerAuth(adminToken: string | undefined) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!adminToken || !match || !secretsEqual(match[1], adminToken)) throw errors.UNAUTHORIZED();
    request.actor = 'admin-token';
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    actor?: string;
  }
}
