import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import type { Context } from '../context.js';
import { alertRoutes } from './routes/alerts.js';
import { followUpRoutes } from './routes/follow-up.js';
import { bearerAuth } from './auth.js';
import type { ServerPlugin } from './server-plugin.js';
import { publicRoutes } from '../public/routes.js';
import { AuthLimiter } from './auth-limiter.js';
import { errorResponse, sendErrorJson, type ThrownError } from './error-response.js';
import { errors } from '../errors.js';

export interface ServerOptions {
  /** Routes added by other concerns (subscriptions, console, metrics); see plugins.ts. */
  plugins?: ServerPlugin[];
}

/** The HTTP server: admin API behind a bearer token, public subscription pages, health. */
export async function buildServer(ctx: Context, options: ServerOptions = {}): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: ctx.log.child({ component: 'http' }) as unknown as FastifyBaseLogger,
    bodyLimit: ctx.config.http.bodyLimitBytes,
    // Only trust X-Forwarded-For from the proxies named in config; otherwise clients could fake
    // their address and escape per-IP limits.
    trustProxy: ctx.config.http.trustProxy as boolean | string | string[],
    // Signed tokens in links are longer than Fastify's default 100-character parameter limit.
    routerOptions: { maxParamLength: 1024 },
  });
  await app.register(formbody);

  app.setErrorHandler((error: ThrownError, request, reply) => sendErrorJson(reply, errorResponse(error, request)));
  app.setNotFoundHandler((request, reply) => sendErrorJson(reply, errorResponse(errors.NOT_FOUND(`${request.method} ${request.url.split('?')[0]}`), request)));

  app.get('/healthz', async () => {
    await ctx.redis.ping();
    // A development signing key is fine on a laptop and wrong anywhere else: say so where probes look.
    return { ok: true, signing: !ctx.signing.enabled ? 'off' : ctx.signing.development ? 'development-key' : 'on' };
  });

  await app.register(async (admin) => {
    admin.addHook('onRequest', bearerAuth(ctx.config.secrets.adminToken, new AuthLimiter(ctx)));
    await admin.register(alertRoutes, { ctx });
    await admin.register(followUpRoutes, { ctx });
  });
  await app.register(publicRoutes, { ctx });
  for (const plugin of options.plugins ?? []) await app.register(async (scope) => plugin(scope, ctx));
  return app;
}
