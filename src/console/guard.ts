import { fastifyCookie } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { ConsoleRole } from '../config/schema.js';
import { errors } from '../errors.js';
import { hasRole, type RoleTokens } from './roles.js';
import { SESSION_COOKIE, type ConsoleSession, type SessionStore } from './session.js';

/** Per-route settings every console route carries in its Fastify `config`. */
export interface ConsoleRouteConfig {
  /** Lowest role allowed. Defaults: viewer for GET/HEAD, publisher for anything else. */
  role?: ConsoleRole;
  /** Reachable without a session (login page, /media). */
  public?: boolean;
}

export interface GuardDeps {
  sessions: SessionStore;
  tokens: RoleTokens;
  cookieSecret: string;
}

/** The session named by the signed cookie, if it exists and its login token is still configured. */
export async function sessionFromRequest(deps: GuardDeps, request: FastifyRequest): Promise<ConsoleSession | null> {
  const raw = fastifyCookie.parse(request.headers.cookie ?? '')[SESSION_COOKIE];
  if (!raw) return null;
  const unsigned = fastifyCookie.unsign(raw, deps.cookieSecret);
  if (!unsigned.valid) return null;
  const session = await deps.sessions.touch(unsigned.value);
  if (!session) return null;
  // A rotated or removed token ends every session it opened.
  if (!deps.tokens.byFingerprint(session.fingerprint)) {
    await deps.sessions.destroy(session.id);
    return null;
  }
  return session;
}

/** Fills in the default role so every route states who may use it (fail safe: changes need publisher). */
export function defaultRole(route: RouteOptions): void {
  const config = (route.config ?? {}) as ConsoleRouteConfig;
  if (config.public || config.role) return;
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const readOnly = methods.every((m) => m === 'GET' || m === 'HEAD');
  route.config = { ...config, role: readOnly ? 'viewer' : 'publisher' } as typeof route.config;
}

/**
 * onRequest hook: 401 without a valid session, 403 when the role is too low. Usable outside the
 * console scope too (Bull Board): pass a fixed role.
 */
export function consoleGuard(deps: GuardDeps, fixedRole?: ConsoleRole) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const config = (request.routeOptions.config ?? {}) as ConsoleRouteConfig;
    if (config.public && !fixedRole) return;
    const session = await sessionFromRequest(deps, request);
    if (!session) throw errors.UNAUTHORIZED();
    const need = fixedRole ?? config.role ?? 'publisher';
    if (!hasRole(session.role, need)) throw errors.FORBIDDEN(`this needs the ${need} role; ${session.actor} is signed in as ${session.role}`);
    request.consoleSession = session;
    request.actor = session.actor;
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    consoleSession?: ConsoleSession;
  }
  interface FastifyContextConfig {
    /** Console routes: lowest role allowed (see ConsoleRouteConfig). */
    role?: ConsoleRole;
    /** Console routes: reachable without a session. */
    public?: boolean;
    /** Console routes: false to skip the CSRF check (never for forms). */
    csrf?: boolean;
  }
}
