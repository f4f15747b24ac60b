import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Context } from '../context.js';
import { errors } from '../errors.js';
import { envelopeAddress } from '../channels/email/mime.js';
import { renderPage } from '../render/page.js';
import { describeErrors, HONEYPOT, parseSubscribeForm, parseSubscribeJson } from './input.js';
import { ACCEPTED_MESSAGE, type Subscriptions } from './subscribe.js';
import { sendPage, subscribePage } from './views.js';
import { embedSnippet } from './embed.js';

/** Bodies here are a handful of fields; a small limit turns floods into cheap 413s. */
export const SUBSCRIBE_BODY_LIMIT = 16 * 1024;

/**
 * The hosted form (/subscribe), its embeddable twin, and POST /api/subscribe. Every accepted
 * request gets the same answer, whatever the address: 303 to /subscribe/check-email for the
 * form, 202 with ACCEPTED_MESSAGE for JSON.
 */
export async function publicRoutes(app: FastifyInstance, { ctx, subscriptions }: { ctx: Context; subscriptions: Subscriptions }): Promise<void> {
  const { config } = ctx;
  const base = config.http.publicUrl.replace(/\/+$/, '');

  app.get('/subscribe', async (_request, reply) => sendPage(reply, subscribePage(config), { frameable: true }));

  app.post('/subscribe', { bodyLimit: SUBSCRIBE_BODY_LIMIT }, async (request, reply) => {
    await subscriptions.limitIp(request.ip);
    const parsed = parseSubscribeForm(config, request.body);
    if (!parsed.ok) {
      const b = (request.body ?? {}) as Record<string, unknown>;
      const ticked = b.countries === undefined ? [] : ([] as unknown[]).concat(b.countries).map(String);
      const scope = b.scope === 'some' || b.scope === 'all' ? b.scope : undefined;
      const level = typeof b.level === 'string' && ['all', 'watch', 'warning', 'emergency'].includes(b.level) ? (b.level as 'all') : undefined;
      return sendPage(
        reply,
        subscribePage(config, {
          email: typeof b.email === 'string' ? b.email.slice(0, 300) : '',
          choices: { scope, countries: ticked, minLevel: level },
          errors: parsed.errors,
        }),
        { status: 400, frameable: true },
      );
    }
    await subscriptions.accept(parsed.value, 'form');
    return reply.header('cache-control', 'no-store').redirect('/subscribe/check-email', 303);
  });

  app.get('/subscribe/check-email', async (_request, reply) =>
    sendPage(
      reply,
      renderPage(config, 'subscribe-sent', 'Check your email', {
        message: ACCEPTED_MESSAGE,
        from: envelopeAddress(config.email.from),
        pendingDays: Math.round(config.subscriptions.pendingExpiryS / 86400),
      }),
      { frameable: true },
    ),
  );

  app.get('/subscribe/embed', async (_request, reply) =>
    sendPage(reply, renderPage(config, 'embed', 'Embed the subscribe form', { snippet: embedSnippet(base), base, honeypot: HONEYPOT })),
  );

  // The JSON API may be called from the organisation's own pages: no credentials are involved,
  // so any origin may call it.
  const cors = (reply: FastifyReply) =>
    reply
      .header('access-control-allow-origin', '*')
      .header('access-control-allow-methods', 'POST, OPTIONS')
      .header('access-control-allow-headers', 'content-type')
      .header('access-control-max-age', '86400');

  app.options('/api/subscribe', async (_request, reply) => cors(reply).code(204).send());

  app.post('/api/subscribe', { bodyLimit: SUBSCRIBE_BODY_LIMIT }, async (request, reply) => {
    cors(reply);
    await subscriptions.limitIp(request.ip);
    const parsed = parseSubscribeJson(config, request.body);
    if (!parsed.ok) {
      const onlyEmail = Object.keys(parsed.errors).length === 1 && parsed.errors.email;
      throw onlyEmail ? errors.EMAIL_INVALID(`email: ${parsed.errors.email}`) : errors.BODY_INVALID(describeErrors(parsed.errors));
    }
    await subscriptions.accept(parsed.value, 'api');
    return reply.code(202).header('cache-control', 'no-store').send({ status: 'accepted', message: ACCEPTED_MESSAGE });
  });
}
