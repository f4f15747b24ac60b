import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

// Pages and feeds are rendered once and kept, per process, until what they show changes: each
// cached response carries the "dependencies" it was rendered from (an alert's version and its
// cross-links, or the index generation for lists), and is rendered again only when they differ.
// Responses carry a strong ETag (a hash of the bytes) and Last-Modified, and answer 304.

export interface Rendered {
  body: Buffer;
  type: string;
  etag: string;
  lastModified: Date;
  status: number;
  headers: Record<string, string>;
}

export function rendered(body: string, type: string, lastModified: Date, options: { status?: number; headers?: Record<string, string> } = {}): Rendered {
  const bytes = Buffer.from(body, 'utf8');
  const etag = `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
  // HTTP dates have whole seconds; rounding down keeps If-Modified-Since comparisons exact.
  const seconds = new Date(Math.floor(lastModified.getTime() / 1000) * 1000);
  return { body: bytes, type, etag, lastModified: seconds, status: options.status ?? 200, headers: options.headers ?? {} };
}

/** A small LRU of rendered responses. Keys include query strings, so the size is bounded. */
export class ResponseCache {
  private readonly map = new Map<string, { deps: string; value: Rendered }>();
  renders = 0;

  constructor(private readonly max: number) {}

  async get(key: string, deps: string, render: () => Promise<Rendered> | Rendered): Promise<Rendered> {
    const hit = this.map.get(key);
    if (hit && hit.deps === deps) {
      // Refresh its place in the LRU order.
      this.map.delete(key);
      this.map.set(key, hit);
      return hit.value;
    }
    const value = await render();
    this.renders++;
    this.map.delete(key);
    this.map.set(key, { deps, value });
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
    return value;
  }

  clear(): void {
    this.map.clear();
  }
}

function matchesEtag(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  // Weak comparison, as RFC 9110 asks for If-None-Match.
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === bare);
}

/** Is the client's copy current? If-None-Match wins over If-Modified-Since when both are sent. */
export function notModified(request: FastifyRequest, value: Rendered): boolean {
  if (value.status !== 200) return false;
  const inm = request.headers['if-none-match'];
  if (typeof inm === 'string') return matchesEtag(inm, value.etag);
  const ims = request.headers['if-modified-since'];
  if (typeof ims === 'string') {
    const since = Date.parse(ims);
    return Number.isFinite(since) && value.lastModified.getTime() <= since;
  }
  return false;
}

export function sendRendered(request: FastifyRequest, reply: FastifyReply, value: Rendered, cacheControl: string): FastifyReply {
  reply.header('cache-control', value.status === 200 ? cacheControl : 'no-cache');
  for (const [name, v] of Object.entries(value.headers)) reply.header(name, v);
  if (value.status === 200) reply.header('etag', value.etag).header('last-modified', value.lastModified.toUTCString());
  if (notModified(request, value)) return reply.code(304).send();
  return reply.code(value.status).type(value.type).send(value.body);
}
