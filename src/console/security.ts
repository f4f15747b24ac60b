import { createHmac, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import csrfProtection from '@fastify/csrf-protection';
import multipart from '@fastify/multipart';
import type { Context } from '../context.js';
import { consoleGuard, defaultRole, type ConsoleRouteConfig, type GuardDeps } from './guard.js';
import { renderConsolePage } from './view.js';
import { staffPagePolicy } from '../http/content-security-policy.js';
import { errorResponse, prepareReply, type ThrownError } from '../http/error-response.js';

// Everything every console route gets: cookies, the session guard (401/403), CSRF on every
// state-changing request, multipart for the compose form, security headers, HTML error pages.

export const CSRF_COOKIE = 'tocsin_csrf';

/**
 * Cookies are Secure whenever the public URL is https, even if this request reached the server
 * over plain http (a TLS proxy without trustProxy); otherwise when the request itself was https.
 */
export const cookieSecure = (config: Context['config']): true | 'auto' => (new URL(config.http.publicUrl).protocol === 'https:' ? true : 'auto');
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The CSRF token for forms on this response, bound to the session (or to "no session" at login). */
export const csrfToken = (request: FastifyRequest, reply: FastifyReply): string => reply.generateCsrf({ userInfo: csrfUser(request) });
// @fastify/csrf refuses an empty userInfo, so signed-out forms (login) use a fixed stand-in.
const csrfUser = (request: FastifyRequest): string => request.consoleSession?.id ?? 'signed-out';

/** The token sent with a form: urlencoded field, multipart field, or a header from page scripts. */
function tokenFrom(request: FastifyRequest): string | undefined {
  const field = (request.body as Record<string, unknown> | undefined)?._csrf;
  const value = typeof field === 'string' ? field : (field as { value?: unknown } | undefined)?.value;
  if (typeof value === 'string') return value;
  const header = request.headers['x-csrf-token'];
  return typeof header === 'string' ? header : undefined;
}

export async function registerSecurity(app: FastifyInstance, ctx: Context, guard: GuardDeps, maxUploadBytes: number): Promise<void> {
  await app.register(fastifyCookie, { secret: guard.cookieSecret });
  await app.register(csrfProtection, {
    cookieKey: CSRF_COOKIE,
    cookieOpts: { path: '/', sameSite: 'strict', httpOnly: true, secure: cookieSecure(ctx.config), signed: true },
    getToken: tokenFrom,
    getUserInfo: csrfUser,
    csrfOpts: { hmacKey: createHmac('sha256', ctx.secret).update('console-csrf').digest() },
    logLevel: 'info',
  });
  await app.register(multipart, {
    attachFieldsToBody: true,
    // Bounded in every dimension: multipart does not go through Fastify's bodyLimit.
    limits: { fileSize: maxUploadBytes, files: 11, fields: 60, parts: 80, fieldSize: 512 * 1024, fieldNameSize: 100, headerPairs: 100 },
  });

  // Every route states its role (explicitly, or the fail-safe default).
  app.addHook('onRoute', defaultRole);
  app.addHook('onRequest', async (request) => {
    request.cspNonce = randomBytes(16).toString('base64');
  });
  app.addHook('onRequest', consoleGuard(guard));
  app.addHook('preHandler', (request, reply, done) => {
    const config = (request.routeOptions.config ?? {}) as ConsoleRouteConfig & { csrf?: boolean };
    if (SAFE_METHODS.has(request.method) || config.csrf === false) return done();
    app.csrfProtection(request, reply, done);
  });
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) {
      reply.header('cache-control', 'no-store');
      reply.header('x-frame-options', 'DENY');
      // Scripts only with this response's nonce; see content-security-policy.ts.
      reply.header('content-security-policy', staffPagePolicy({ scripts: { nonce: request.cspNonce ?? '' } }));
    }
    return payload;
  });

  app.setErrorHandler((error: ThrownError, request, reply) => {
    const e = errorResponse(error, request, { maxUploadBytes });
    const { status, code, message } = e;
    prepareReply(reply, e);
    const wantsHtml =
      request.url.startsWith('/console') && !String(request.headers.accept ?? '').includes('application/json') && !request.url.includes('/events');
    if (!wantsHtml) return reply.send({ statusCode: status, code, error: message });
    const frame = {
      title: status === 401 ? 'Sign in' : 'Problem',
      session: request.consoleSession,
      csrf: safeCsrf(request, reply),
      nonce: request.cspNonce ?? '',
    };
    const next = request.method === 'GET' && /^\/console(\/[^?#]*)?$/.test(request.url.split('?')[0]) ? request.url : '/console/alerts';
    const html =
      status === 401
        ? renderConsolePage(ctx.config, 'login', frame, { error: 'Please sign in to use the console.', next, name: '' })
        : renderConsolePage(ctx.config, 'message', frame, { heading: headingFor(status), message, code, status });
    return reply.type('text/html; charset=utf-8').send(html);
  });
}

function safeCsrf(request: FastifyRequest, reply: FastifyReply): string {
  try {
    return csrfToken(request, reply);
  } catch {
    return '';
  }
}

function headingFor(status: number): string {
  if (status === 403) return 'Not allowed';
  if (status === 404) return 'Not found';
  if (status === 409) return 'Cannot do that now';
  if (status === 413) return 'Too large';
  if (status >= 500) return 'Something went wrong';
  return 'Please check the request';
}

declare module 'fastify' {
  interface FastifyRequest {
    cspNonce?: string;
  }
}
