import type { FastifyInstance } from 'fastify';
import type { Context } from '../context.js';
import { messagePage } from '../render/page.js';
import { BackgroundTasks } from './background.js';
import { SubscriptionMailer } from './mailer.js';
import { Subscriptions } from './subscribe.js';
import { publicRoutes } from './public-routes.js';
import { tokenRoutes } from './token-routes.js';
import { adminRoutes } from './admin-routes.js';
import { bounceWebhookRoutes } from './bounces/routes.js';
import { sendPage } from './views.js';
import { languagesWithoutTemplates } from '../render/subscription-emails.js';
import { errorResponse, prepareReply, sendErrorJson, type ThrownError } from '../http/error-response.js';

const HEADINGS: Record<number, string> = { 400: 'Please check the form', 413: 'Too much data', 429: 'Please wait a little', 404: 'Not found' };

/**
 * Public subscription routes (/subscribe, /api/subscribe, confirm, unsubscribe, preferences,
 * bounce webhooks) and the subscriber admin routes. Errors come back as a page on page routes
 * and as {statusCode, code, error} on /api routes.
 */
export async function subscriptionRoutes(app: FastifyInstance, ctx: Context): Promise<void> {
  const log = ctx.log.child({ component: 'subscriptions' });
  const mailer = new SubscriptionMailer(ctx);
  const tasks = new BackgroundTasks(log, ctx.config.subscriptions.maxBacklog);
  const subscriptions = new Subscriptions(ctx, mailer, tasks);
  const untranslated = languagesWithoutTemplates(ctx.config.subscriptions.languages);
  if (untranslated.length)
    log.warn(
      { languages: untranslated },
      'subscriptions.languages lists languages without email templates (templates/email/<kind>.<lang>.*.hbs); their emails will be in English',
    );

  // Unconfirmed records are deleted on time even when nobody subscribes for a while.
  const sweeper = setInterval(() => void subscriptions.sweep().catch((err: Error) => log.warn({ err: err.message }, 'pending sweep failed')), 5 * 60_000);
  sweeper.unref();
  app.addHook('onClose', async () => {
    clearInterval(sweeper);
    await tasks.drain();
    mailer.close();
  });

  app.setErrorHandler((error: ThrownError, request, reply) => {
    const e = errorResponse(error, request);
    if (request.url.startsWith('/api/')) return sendErrorJson(reply, e);
    prepareReply(reply, e);
    return sendPage(reply, messagePage(ctx.config, HEADINGS[e.status] ?? 'Something went wrong', e.message, true), { status: e.status });
  });

  await app.register(publicRoutes, { ctx, subscriptions });
  await app.register(tokenRoutes, { ctx, mailer, tasks });
  await app.register(async (scope) => bounceWebhookRoutes(scope, ctx));
  await app.register(async (scope) => adminRoutes(scope, ctx));
}
