import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Context } from '../context.js';
import { errors } from '../errors.js';
import { sessionFromRequest } from './guard.js';
import { hasRole, RoleTokens } from './roles.js';
import { SessionStore, cookieSecret } from './session.js';
import { processEnvironment } from '../config/environment.js';

/**
 * The console login for routes outside the console (Bull Board at /admin/queues): an onRequest
 * hook that accepts the console session cookie. Reading needs viewer; anything else publisher.
 * Without a session it answers 401: a browser gets a short page linking to the sign-in form.
 */
export function consoleAuthHook(ctx: Context, options: { env?: NodeJS.ProcessEnv; signInNext?: string } = {}) {
  const tokens = new RoleTokens(ctx.config, ctx.secret, options.env ?? processEnvironment());
  const guard = { tokens, sessions: new SessionStore(ctx.redis, ctx.keys, ctx.config.console.sessionIdleMinutes * 60), cookieSecret: cookieSecret(ctx.secret) };
  const next = encodeURIComponent(options.signInNext ?? '/admin/queues');
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const read = request.method === 'GET' || request.method === 'HEAD';
    const session = await sessionFromRequest(guard, request);
    if (!session) {
      if (read && String(request.headers.accept ?? '').includes('text/html')) {
        await reply
          .code(401)
          .type('text/html; charset=utf-8')
          .header('cache-control', 'no-store')
          .send(
            `<!doctype html><html lang="en"><meta charset="utf-8"><title>Sign in</title><p>Please <a href="/console/login?next=${next}">sign in to the console</a> first.</p></html>`,
          );
        return;
      }
      throw errors.UNAUTHORIZED();
    }
    const need = read ? 'viewer' : 'publisher';
    if (!hasRole(session.role, need)) throw errors.FORBIDDEN(`this needs the ${need} role; ${session.actor} is signed in as ${session.role}`);
    request.consoleSession = session;
    request.actor = session.actor;
  };
}
