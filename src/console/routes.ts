import type { FastifyInstance } from 'fastify';
import type { Context } from '../context.js';
import type { Messenger } from '../channels/messenger.js';
import { AuditLog } from '../store/audit.js';
import { RoleTokens } from './roles.js';
import { SessionStore, cookieSecret } from './session.js';
import { UploadStore } from './uploads.js';
import { registerSecurity } from './security.js';
import type { ConsoleDeps } from './deps.js';
import { loginRoutes } from './login-routes.js';
import { alertsListRoutes } from './alerts-list-routes.js';
import { alertRoutes } from './alert-routes.js';
import { eventsRoute } from './events-route.js';
import { deliveryRoutes } from './delivery-routes.js';
import { composeRoutes } from './compose-routes.js';
import { workflowRoutes } from './workflow-routes.js';
import { haltRoutes } from './halt-routes.js';
import { correctRoutes } from './correct-routes.js';
import { retractRoutes } from './retract-routes.js';
import { healthRoutes } from './health-routes.js';
import { subscribersRoutes } from './subscribers-routes.js';
import { recipientsRoutes } from './recipients-routes.js';
import { processEnvironment } from '../config/environment.js';

/**
 * The operator console under /console (server-rendered, works without script) and uploaded media
 * under /media. Every console route needs a session with a role, and every state-changing one a
 * CSRF token; see security.ts and guard.ts.
 */
export async function consoleRoutes(app: FastifyInstance, ctx: Context, accounts: Map<string, Messenger>): Promise<void> {
  const tokens = new RoleTokens(ctx.config, ctx.secret, processEnvironment(), ctx.log);
  if (tokens.size === 0) ctx.log.warn('no console login tokens are set (TOCSIN_VIEWER_TOKEN, TOCSIN_EDITOR_TOKEN, TOCSIN_PUBLISHER_TOKEN); nobody can sign in');
  const sessions = new SessionStore(ctx.redis, ctx.keys, ctx.config.console.sessionIdleMinutes * 60);
  const guard = { sessions, tokens, cookieSecret: cookieSecret(ctx.secret) };
  const deps: ConsoleDeps = {
    ctx,
    accounts,
    sessions,
    tokens,
    guard,
    audit: new AuditLog(ctx.redis, ctx.keys),
    uploads: new UploadStore(ctx.config.console.uploadsDir, ctx.config.http.publicUrl, ctx.config.console.maxUploadBytes),
  };

  await registerSecurity(app, ctx, guard, ctx.config.console.maxUploadBytes);
  deps.uploads.registerRoute(app);
  for (const routes of [
    loginRoutes,
    alertsListRoutes,
    alertRoutes,
    eventsRoute,
    deliveryRoutes,
    composeRoutes,
    workflowRoutes,
    haltRoutes,
    correctRoutes,
    retractRoutes,
    healthRoutes,
    subscribersRoutes,
    recipientsRoutes,
  ]) {
    await routes(app, deps);
  }
}
