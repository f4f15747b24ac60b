import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Context } from '../context.js';
import { maskEmail } from '../domain/subscriber.js';
import { messagePage, renderPage } from '../render/page.js';
import { describeCountries, MIN_LEVEL_LABELS } from '../render/subscription-emails.js';
import { personalLinks } from '../publish/links.js';
import { verifyToken, type TokenPayload, type TokenPurpose } from '../tokens.js';
import { confirmSubscription, inspectConfirmation } from './confirm.js';
import { parseChoicesForm } from './input.js';
import { updatePreferences } from './preferences.js';
import { unsubscribe } from './unsubscribe.js';
import { choicesFields, errorList, sendPage } from './views.js';
import type { BackgroundTasks } from './background.js';
import type { SubscriptionMailer } from './mailer.js';

const REFUSALS: Record<string, { status: number; message: string }> = {
  malformed: { status: 400, message: 'The link is incomplete. Copy the whole link from the email and try again.' },
  'bad-signature': { status: 400, message: 'The link was changed, or it is not one of ours. Nothing has been changed.' },
  expired: { status: 410, message: 'The link has expired. Nothing has been changed.' },
  'wrong-purpose': { status: 400, message: 'This link is meant for something else. Use the matching link from the email. Nothing has been changed.' },
};

// Wildcards, not `:token` params: Fastify refuses params longer than maxParamLength (100) with
// a 414, and a token for a subscriber id of four digits or more is longer than that.
type Params = { Params: { '*': string } };

// Token URLs are capabilities: keep them out of the request log (info level is where Fastify
// logs each URL), and out of Referer headers (see views.ts).
const QUIET = { logLevel: 'warn' as const, bodyLimit: 16 * 1024 };

export interface TokenRouteDeps {
  ctx: Context;
  mailer: SubscriptionMailer;
  tasks: BackgroundTasks;
}

/**
 * Pages reached from links in emails: confirm (GET shows a button, only POST confirms, because
 * link scanners follow GETs), one-click unsubscribe (RFC 8058) and preferences. A forged,
 * tampered, expired or wrong-purpose token gets a clear page and a 4xx and changes nothing.
 */
export async function tokenRoutes(app: FastifyInstance, { ctx, mailer, tasks }: TokenRouteDeps): Promise<void> {
  const { config } = ctx;

  // RFC 8058 allows the one-click body as multipart/form-data; only the token matters, so the
  // body is accepted and ignored.
  app.addContentTypeParser('multipart/form-data', { parseAs: 'string' }, (_request, body, done) => done(null, { raw: body }));

  const refuse = (reply: FastifyReply, reason: string) => {
    const r = REFUSALS[reason] ?? REFUSALS.malformed;
    return sendPage(reply, messagePage(config, 'This link does not work', r.message, true), { status: r.status });
  };
  const gone = (reply: FastifyReply, message: string) => sendPage(reply, messagePage(config, 'This link does not work', message, true), { status: 410 });

  function check(token: string, purpose: TokenPurpose): { ok: true; payload: TokenPayload } | { ok: false; reason: string } {
    return verifyToken(ctx.secret, token, purpose);
  }

  // --- confirm ---
  app.get<Params>('/subscribe/confirm/*', QUIET, async (request, reply) => {
    const c = check(request.params['*'], 'confirm');
    if (!c.ok) return refuse(reply, c.reason);
    const { request: pending, subscriber } = await inspectConfirmation(ctx, c.payload.s, c.payload.g ?? 0);
    if (!pending) {
      if (subscriber?.status === 'confirmed')
        return sendPage(reply, messagePage(config, 'Already confirmed', 'This subscription is already confirmed. There is nothing more to do.'));
      return gone(reply, 'This confirmation link has been used, replaced by a newer one, or has expired. If you still want alerts, subscribe again.');
    }
    return sendPage(
      reply,
      renderPage(config, 'confirm', 'Confirm your subscription', {
        action: `/subscribe/confirm/${request.params['*']}`,
        levelText: MIN_LEVEL_LABELS[pending.minLevel],
        countriesText: describeCountries(pending.countries, pending.language),
      }),
    );
  });

  app.post<Params>('/subscribe/confirm/*', QUIET, async (request, reply) => {
    const c = check(request.params['*'], 'confirm');
    if (!c.ok) return refuse(reply, c.reason);
    const result = await confirmSubscription(ctx, c.payload.s, c.payload.g ?? 0);
    if (!result) {
      const sub = await ctx.subscribers.get(c.payload.s);
      if (sub?.status === 'confirmed')
        return sendPage(reply, messagePage(config, 'Already confirmed', 'This subscription is already confirmed. There is nothing more to do.'));
      return gone(reply, 'This confirmation link has been used, replaced by a newer one, or has expired. If you still want alerts, subscribe again.');
    }
    const { subscriber, wasConfirmed } = result;
    const links = personalLinks(ctx, subscriber.id);
    if (!wasConfirmed) {
      tasks.add(() =>
        mailer
          .send({
            kind: 'welcome',
            to: subscriber.email,
            countries: subscriber.countries,
            minLevel: subscriber.minLevel,
            language: subscriber.language,
            ...links,
          })
          .catch((err: Error) => ctx.log.warn({ recipient: maskEmail(subscriber.email), err: err.message }, 'welcome email could not be sent')),
      );
    }
    return sendPage(
      reply,
      renderPage(config, 'confirm', 'You are subscribed', {
        done: true,
        levelText: MIN_LEVEL_LABELS[subscriber.minLevel],
        countriesText: describeCountries(subscriber.countries, subscriber.language),
        preferencesUrl: links.preferencesUrl,
      }),
    );
  });

  // --- unsubscribe (RFC 8058) ---
  app.get<Params>('/unsubscribe/*', QUIET, async (request, reply) => {
    const c = check(request.params['*'], 'unsubscribe');
    if (!c.ok) return refuse(reply, c.reason);
    const links = personalLinks(ctx, c.payload.s);
    return sendPage(
      reply,
      renderPage(config, 'unsubscribe', 'Unsubscribe', { action: `/unsubscribe/${request.params['*']}`, preferencesUrl: links.preferencesUrl }),
    );
  });

  app.post<Params>('/unsubscribe/*', QUIET, async (request, reply) => {
    const c = check(request.params['*'], 'unsubscribe');
    if (!c.ok) return refuse(reply, c.reason);
    const before = await unsubscribe(ctx, c.payload.s, 'link');
    if (before?.status === 'confirmed') {
      tasks.add(() =>
        mailer
          .send({ kind: 'goodbye', to: before.email, countries: before.countries, minLevel: before.minLevel, language: before.language })
          .catch((err: Error) => ctx.log.warn({ recipient: maskEmail(before.email), err: err.message }, 'goodbye email could not be sent')),
      );
    }
    return sendPage(reply, renderPage(config, 'unsubscribe', 'Unsubscribed', { done: true }));
  });

  // --- preferences ---
  const preferencesPage = async (reply: FastifyReply, token: string, id: number, options: { saved?: boolean; body?: unknown } = {}) => {
    const sub = await ctx.subscribers.get(id);
    if (!sub) return gone(reply, 'There is no subscription for this link any more. You can subscribe again.');
    if (sub.status !== 'confirmed') {
      return sendPage(
        reply,
        messagePage(
          config,
          'Not subscribed',
          'This address is not subscribed at the moment, so there are no preferences to change. You can subscribe again from the subscribe page.',
        ),
        { status: 409 },
      );
    }
    let errors = {};
    let choices: Parameters<typeof choicesFields>[1] = { countries: sub.countries, minLevel: sub.minLevel, language: sub.language };
    let status = 200;
    if (options.body !== undefined) {
      const parsed = parseChoicesForm(config, options.body);
      if (!parsed.ok) {
        errors = parsed.errors;
        const b = options.body as Record<string, unknown>;
        const ticked = b.countries === undefined ? [] : ([] as unknown[]).concat(b.countries).map(String);
        choices = {
          scope: b.scope === 'some' ? 'some' : b.scope === 'all' ? 'all' : undefined,
          countries: ticked,
          minLevel: sub.minLevel,
          language: sub.language,
        };
        status = 400;
      }
    }
    return sendPage(
      reply,
      renderPage(config, 'preferences', status === 400 ? 'Error: your alert preferences' : 'Your alert preferences', {
        action: `/preferences/${token}`,
        saved: options.saved,
        maskedEmail: maskEmail(sub.email),
        fields: choicesFields(config, choices, errors),
        errorList: errorList(errors),
        unsubscribeUrl: personalLinks(ctx, id).unsubscribeUrl,
      }),
      { status },
    );
  };

  app.get<Params>('/preferences/*', QUIET, async (request, reply) => {
    const c = check(request.params['*'], 'preferences');
    if (!c.ok) return refuse(reply, c.reason);
    return preferencesPage(reply, request.params['*'], c.payload.s);
  });

  app.post<Params>('/preferences/*', QUIET, async (request, reply) => {
    const c = check(request.params['*'], 'preferences');
    if (!c.ok) return refuse(reply, c.reason);
    const parsed = parseChoicesForm(config, request.body);
    if (!parsed.ok) return preferencesPage(reply, request.params['*'], c.payload.s, { body: request.body ?? {} });
    const updated = await updatePreferences(ctx, c.payload.s, parsed.value);
    if (!updated) return preferencesPage(reply, request.params['*'], c.payload.s);
    return preferencesPage(reply, request.params['*'], c.payload.s, { saved: true });
  });
}
