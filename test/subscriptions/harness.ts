import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { ParsedMail } from 'mailparser';
import { testContext, dropPrefix, waitFor } from '../helpers/context.js';
import { TestSmtpServer } from '../helpers/smtp.js';
import { buildServer } from '../../src/http/server.js';
import { serverPlugins } from '../../src/http/plugins.js';
import type { Context } from '../../src/context.js';
import { queueNames } from '../../src/metrics/snapshot.js';

// A listening server, a real SMTP server and a Context on the private test Redis. The public URL
// is the server's real address, so links in emails are followed exactly as written.

export interface Harness {
  ctx: Context;
  smtp: TestSmtpServer;
  app: FastifyInstance;
  base: string;
  /** Closes the server (which finishes background work first), then the rest. */
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export async function startHarness(name: string, overrides: Record<string, unknown> = {}): Promise<Harness> {
  const smtp = await new TestSmtpServer().start();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const { http, email, organisation, ...rest } = overrides as { http?: object; email?: object; organisation?: object };
  const ctx = await testContext(name, {
    http: { publicUrl: base, ...http },
    email: { smtpUrl: smtp.url, ...email },
    organisation: { name: 'Genocide Watch Test', postalAddress: '1 Example Street, Springfield', website: 'https://example.org', ...organisation },
    ...rest,
  });
  const app = await buildServer(ctx, { plugins: serverPlugins(new Map()) });
  await app.listen({ port, host: '127.0.0.1' });
  let closed = false;
  return {
    ctx,
    smtp,
    app,
    base,
    async close() {
      if (!closed) await app.close();
      closed = true;
      // Queues opened by other plugins (Bull Board) finish connecting before Redis is closed;
      // otherwise BullMQ reports "Connection is closed" as an unhandled rejection.
      await Promise.all(
        queueNames(ctx).map((name) =>
          ctx.queues
            .get(name)
            .waitUntilReady()
            .catch(() => undefined),
        ),
      );
      await dropPrefix(ctx);
      await ctx.close();
      await smtp.stop();
    },
  };
}

export async function mailsTo(smtp: TestSmtpServer, address: string): Promise<ParsedMail[]> {
  const mine = smtp.received.filter((m) => m.to.some((to) => to.toLowerCase() === address.toLowerCase()));
  return Promise.all(mine.map((m) => smtp.parse(m)));
}

/** Waits for the n-th message to this address whose subject matches. */
export async function waitForMail(smtp: TestSmtpServer, address: string, subject: RegExp, n = 1): Promise<ParsedMail> {
  return waitFor(async () => {
    const matching = (await mailsTo(smtp, address)).filter((m) => subject.test(m.subject ?? ''));
    return matching.length >= n ? matching[n - 1] : undefined;
  }, `mail "${subject}" #${n} to ${address}`);
}

/** The first URL in the text part under this path. */
export function linkIn(mail: ParsedMail, path: string): string {
  const match = new RegExp(`https?://[^\\s<>"]+${path.replace(/\//g, '\\/')}[^\\s<>"]+`).exec(mail.text ?? '');
  if (!match) throw new Error(`no ${path} link in: ${mail.text}`);
  return match[0];
}

export const form = (fields: Record<string, string | string[]>): string => {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const value of ([] as string[]).concat(v)) params.append(k, value);
  return params.toString();
};

export function postForm(url: string, fields: Record<string, string | string[]> | string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: typeof fields === 'string' ? fields : form(fields),
    redirect: 'manual',
  });
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    redirect: 'manual',
  });
}

/**
 * Every key under the context's prefix with its full value, for "nothing changed" checks.
 * BullMQ's queue bookkeeping (created whenever some part of the server opens a queue) is left out.
 */
export async function snapshot(ctx: Context): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  let cursor = '0';
  do {
    const [next, keys] = await ctx.redis.scan(cursor, 'MATCH', `${ctx.config.redis.prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) if (!key.startsWith(`${ctx.keys.queuePrefix}:`)) out[key] = await dumpKey(ctx, key);
  } while (cursor !== '0');
  return out;
}

export async function dumpKey(ctx: Context, key: string): Promise<unknown> {
  const type = await ctx.redis.type(key);
  switch (type) {
    case 'string':
      return ctx.redis.get(key);
    case 'hash':
      return ctx.redis.hgetall(key);
    case 'list':
      return ctx.redis.lrange(key, 0, -1);
    case 'set':
      return (await ctx.redis.smembers(key)).sort();
    case 'zset':
      return ctx.redis.zrange(key, 0, '-1', 'WITHSCORES');
    case 'stream':
      return ctx.redis.xrange(key, '-', '+');
    default:
      return type;
  }
}

/** A header as sent (mailparser folds List-* headers into one parsed object). */
export function rawHeader(mail: ParsedMail, name: string): string | undefined {
  const line = mail.headerLines.find((h) => h.key === name.toLowerCase())?.line;
  return line
    ?.slice(line.indexOf(':') + 1)
    .replace(/\r?\n[ \t]+/g, ' ')
    .trim();
}
