import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Context } from '../context.js';
import { errors } from '../errors.js';
import { staffPagePolicy } from '../http/content-security-policy.js';
import { checkSecret } from '../http/auth.js';
import type { AuthLimiter } from '../http/auth-limiter.js';

export const BULL_BOARD_PATH = '/admin/queues';

/** An onRequest-style hook: throws (401/403) or sends a reply (a redirect to a login page) to refuse. */
export type AuthHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void> | void;

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Bull Board under /admin/queues, every route (page, assets, API) behind `authHook`. Queues are
 * read-only unless `bullBoard.readOnly` is false in the config.
 */
export async function mountBullBoard(app: FastifyInstance, ctx: Context, queues: string[], authHook: AuthHook): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  const readOnlyMode = ctx.config.bullBoard.readOnly;
  createBullBoard({
    queues: queues.map((name) => new BullMQAdapter(ctx.queues.get(name), { readOnlyMode, allowRetries: !readOnlyMode })),
    serverAdapter,
    options: { uiConfig: { boardTitle: `${ctx.config.organisation.name} queues` } },
  });
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      // Credentials a browser adds by itself (Basic, cookies) must not let another site act here.
      if (UNSAFE.has(request.method) && !sameOrigin(request)) {
        return reply.code(403).send(errorBody(errors.FORBIDDEN('cross-site request to the queue board')));
      }
      try {
        await authHook(request, reply);
      } catch (err) {
        // Bull Board sets its own error handler for its routes; answer in Tocsin's shape here.
        const e = err as { statusCode?: number; retryAfterS?: number };
        if (!e.statusCode || e.statusCode >= 500) throw err;
        if (e.retryAfterS) reply.header('retry-after', String(e.retryAfterS));
        return reply.code(e.statusCode).send(errorBody(err as Error & { statusCode: number; code?: string }));
      }
    });
    // The console's policy (content-security-policy.ts): no framing, scripts from this origin only.
    scope.addHook('onSend', async (_request, reply, payload) => {
      reply.header('content-security-policy', staffPagePolicy({ scripts: 'self', base: "'self'" }));
      reply.header('x-frame-options', 'DENY');
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'same-origin');
      return payload;
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
  });
}

const errorBody = (e: Error & { statusCode: number; code?: string }) => ({ statusCode: e.statusCode, code: e.code ?? 'TOCSIN_ERR_REQUEST', error: e.message });

/** Sec-Fetch-Site where the browser sends it, otherwise Origin against Host; no header = not a browser form. */
function sameOrigin(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin' || site === 'none';
  const origin = request.headers.origin;
  if (typeof origin !== 'string') return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

/**
 * The admin token as `Authorization: Bearer <token>` (scripts) or as the password of HTTP Basic
 * (a browser asks for it; any user name). Until the console's session login is wired in.
 */
export function adminTokenAuth(adminToken: string | undefined, options: { challenge?: boolean; limiter?: AuthLimiter } = {}): AuthHook {
  return async (request, reply) => {
    const header = request.headers.authorization ?? '';
    const bearer = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header)?.[1];
    const password = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':').slice(1).join(':') : undefined;
    const given = bearer ?? password;
    // A wrong token counts against the client and the token prefix (429 past the limit).
    if (given && (await checkSecret(options.limiter, request.ip, given, adminToken))) {
      request.actor = 'admin-token';
      return;
    }
    // The challenge makes a browser ask for the token; leave it off when a login page exists.
    if (options.challenge !== false) reply.header('www-authenticate', 'Basic realm="Tocsin queues", charset="UTF-8"');
    throw errors.UNAUTHORIZED();
  };
}

/** Lets a request through if any hook accepts it, else refuses with the first hook's error. Hooks must throw to refuse. */
export function anyAuth(...hooks: AuthHook[]): AuthHook {
  return async (request, reply) => {
    let first: unknown;
    for (const hook of hooks) {
      try {
        await hook(request, reply);
        return;
      } catch (err) {
        first ??= err;
      }
    }
    throw (first as Error | undefined) ?? errors.UNAUTHORIZED();
  };
}
