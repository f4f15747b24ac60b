import type { FastifyInstance } from 'fastify';
import type { Context } from '../context.js';
import { errors } from '../errors.js';
import { bearerToken, checkSecret } from '../http/auth.js';
import { AuthLimiter } from '../http/auth-limiter.js';
import type { ServerPlugin } from '../http/server-plugin.js';
import { adminTokenAuth, anyAuth, mountBullBoard } from './bull-board.js';
import { consoleAuthHook } from '../console/external-auth.js';
import { renderMetrics } from './exposition.js';
import { liveStreamStats } from '../console/progress-hub.js';
import { cachedSubscriberCounts, collectSnapshot, queueNames } from './snapshot.js';
import { processEnvironment } from '../config/environment.js';

export interface MetricsRoutesOptions {
  /** Where the metrics token is read from (`metrics.tokenEnv`); the process environment by default. */
  env?: NodeJS.ProcessEnv;
  /** false when another plugin mounts Bull Board (e.g. the console, behind its own login). */
  bullBoard?: boolean;
}

/** GET /metrics (Prometheus text, its own bearer token) and Bull Board at /admin/queues. */
export function metricsPlugin(options: MetricsRoutesOptions = {}): ServerPlugin {
  return async (app: FastifyInstance, ctx: Context) => {
    const tokenEnv = ctx.config.metrics.tokenEnv;
    const token = (options.env ?? processEnvironment())[tokenEnv] || undefined;
    if (!token) ctx.log.info(`${tokenEnv} is not set: /metrics is turned off`);
    const subscribers = cachedSubscriberCounts(ctx);
    const limiter = new AuthLimiter(ctx);

    app.get('/metrics', async (request, reply) => {
      if (!token) throw errors.METRICS_DISABLED(tokenEnv);
      const given = bearerToken(request);
      // Its own token, so a Prometheus server never holds the admin token.
      if (!given || !(await checkSecret(limiter, request.ip, given, token))) throw errors.UNAUTHORIZED();
      const live = liveStreamStats();
      const local = { liveStreams: live.streams, liveStreamAlerts: live.alerts, liveStreamReaders: live.readers };
      const { contentType, body } = await renderMetrics({ ...(await collectSnapshot(ctx, { subscribers })), local });
      return reply.header('cache-control', 'no-store').type(contentType).send(body);
    });

    // Staff sign in through the console; scripts may use the admin token (Bearer).
    if (options.bullBoard !== false)
      await mountBullBoard(
        app,
        ctx,
        queueNames(ctx),
        anyAuth(adminTokenAuth(ctx.config.secrets.adminToken, { challenge: false, limiter }), consoleAuthHook(ctx)),
      );
  };
}

export const metricsRoutes: ServerPlugin = metricsPlugin();
