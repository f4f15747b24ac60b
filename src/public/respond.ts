import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/schema.js';
import { sendRendered, type Rendered } from './http-cache.js';

// Headers for public responses. Pages get a CSP stricter than the subscription pages' (no inline
// styles either: the stylesheet is a file), no Referer, and may not be framed. Feeds and CAP are
// public data for other sites' readers: any origin may fetch them, and they never run as pages.

const PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
const DATA_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox";

const cacheControl = (config: Config) => `public, max-age=${config.public.maxAgeS}`;

export function sendPublicPage(config: Config, request: FastifyRequest, reply: FastifyReply, value: Rendered): FastifyReply {
  reply
    .header('content-security-policy', PAGE_CSP)
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY');
  return sendRendered(request, reply, value, cacheControl(config));
}

export function sendPublicData(config: Config, request: FastifyRequest, reply: FastifyReply, value: Rendered): FastifyReply {
  reply
    .header('content-security-policy', DATA_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('access-control-allow-origin', '*')
    .header('access-control-expose-headers', 'etag, last-modified');
  return sendRendered(request, reply, value, cacheControl(config));
}
