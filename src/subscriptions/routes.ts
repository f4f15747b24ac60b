import type { FastifyError, FastifyInstance } from 'fastify';
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

  app.setErrorHandler((error: FastifyError & { retryAfterS?: number }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    const code = error.code ?? (status >= 500 ? 'TOCSIN_ERR_INTERNAL' : 'TOCSIN_ERR_REQUEST');
    let message = status >= 500 && !error.code?.startsWith('TOCSIN_') ? 'Internal error; the details are in the server log.' : error.message;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      message = `Request body is too large: at most ${request.routeOptions.bodyLimit ?? ctx.config.http.bodyLimitBytes} bytes are accepted here`;
    if (error.retryAfterS) reply.header('retry-after', String(error.retryAfterS));
    if (request.url.startsWith('/api/')) return reply.code(status).send({ statusCode: status, code, error: message });
    return sendPage(reply, messagePage(ctx.config, HEADINGS[status] ?? 'Something went wrong', message, true), { status });
  });

  await app.register(publicRoutes, { ctx, subscriptions });
  await app.register(tokenRoutes, { ctx, mailer, tasks });
  await app.register(async (scope) => bounceWebhookRoutes(scope, ctx));
  await app.register(async (scope) => adminRoutes(scope, ctx));
}
