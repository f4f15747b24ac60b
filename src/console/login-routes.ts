import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { field, sendPage, type ConsoleDeps } from './deps.js';
import { sessionFromRequest } from './guard.js';
import { SESSION_COOKIE } from './session.js';
import { CSRF_COOKIE, cookieSecure } from './security.js';
import { AuthLimiter } from '../http/auth-limiter.js';

const nameSchema = z
  .string()
  .trim()
  .min(1, 'Enter your name, so the audit log records who did what.')
  .max(60, 'Your name must be at most 60 characters.')
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'Your name must be one line without control characters.');

/** Only a path inside the console (or the queue board), so the login cannot redirect anywhere else. */
const safeNext = (next: string): string =>
  /^\/(?:console|admin\/queues)(?:\/[A-Za-z0-9._~\-/:%]*)?(?:\?[A-Za-z0-9._~\-=&%]*)?$/.test(next) && !next.includes('//') && !/\/\.|%2e|%2f/i.test(next)
    ? next
    : '/console/alerts';

/** The signed-out CSRF secret behind the form that was posted (the CSRF check has verified it). */
function formSecret(request: FastifyRequest, reply: FastifyReply): string | undefined {
  const raw = request.cookies[CSRF_COOKIE];
  const unsigned = raw ? reply.unsignCookie(raw) : undefined;
  return unsigned?.valid && unsigned.value ? unsigned.value : undefined;
}

/** Makes the page being rendered carry a form with a new CSRF secret (and cookie). */
function freshForm(request: FastifyRequest): void {
  delete request.cookies[CSRF_COOKIE];
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export async function loginRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { sessions, tokens } = deps;
  const limiter = new AuthLimiter(deps.ctx);

  const loginPage = (request: FastifyRequest, reply: FastifyReply, data: { error?: string; next?: string; name?: string }, status = 200) =>
    sendPage(
      deps,
      request,
      reply,
      'login',
      'Sign in',
      { next: safeNext(data.next ?? '/console/alerts'), name: data.name ?? '', error: data.error, noTokens: tokens.size === 0 },
      { status },
    );

  app.get('/console', { config: { role: 'viewer' } }, async (_request, reply) => reply.redirect('/console/alerts', 303));

  app.get('/console/login', { config: { public: true } }, async (request, reply) => {
    const q = request.query as Record<string, unknown>;
    return loginPage(request, reply, { next: typeof q.next === 'string' ? q.next : undefined });
  });

  app.post('/console/login', { config: { public: true } }, async (request, reply) => {
    const token = field(request.body, 'token');
    const next = field(request.body, 'next');
    const typedName = field(request.body, 'name');
    // Counted per client network, per token prefix and per sign-in form (one failed attempt each):
    // past a limit every attempt is refused, the right token included.
    const attempt = { ip: request.ip, presented: token || undefined, formSecret: formSecret(request, reply) };
    try {
      await limiter.admit(attempt);
    } catch (err) {
      const e = err as Error & { statusCode?: number; retryAfterS?: number };
      if (e.statusCode !== 429 && e.statusCode !== 403) throw err;
      request.log.warn({ ip: request.ip }, 'console sign-in refused: too many failed attempts');
      if (e.retryAfterS && e.statusCode === 429) reply.header('retry-after', String(e.retryAfterS));
      freshForm(request);
      return loginPage(request, reply, { error: capitalise(e.message.replace(/^[^:]*: /, '')), next, name: typedName }, e.statusCode);
    }
    const match = token ? tokens.match(token) : undefined;
    if (!match) {
      request.log.warn({ ip: request.ip }, 'console sign-in refused: unknown token');
      // The failure page carries a new form: the one just used will not be accepted again.
      freshForm(request);
      return loginPage(request, reply, { error: 'That token is not valid. Check it and try again.', next, name: typedName }, 401);
    }
    await limiter.succeeded(attempt);
    const name = nameSchema.safeParse(match.name ?? typedName);
    if (!name.success) return loginPage(request, reply, { error: name.error.issues[0].message, next, name: '' }, 400);

    // A fresh session id at every sign-in; any earlier session from this browser ends.
    const previous = await sessionFromRequest(deps.guard, request);
    if (previous) await sessions.destroy(previous.id);
    const session = await sessions.create({ role: match.role, actor: name.data, fingerprint: match.fingerprint });
    request.log.info({ actor: session.actor, role: session.role, via: match.source }, 'console sign-in');
    reply.setCookie(SESSION_COOKIE, session.id, { path: '/', httpOnly: true, sameSite: 'strict', secure: cookieSecure(deps.ctx.config), signed: true });
    const to = safeNext(next);
    return reply.redirect(`${to}${to.includes('?') ? '&' : '?'}notice=signed-in`, 303);
  });

  app.post('/console/logout', { config: { role: 'viewer' } }, async (request, reply) => {
    if (request.consoleSession) await sessions.destroy(request.consoleSession.id);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.redirect('/console/login', 303);
  });
}
