import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Context } from '../../context.js';
import { errors } from '../../errors.js';
import { recordBounces } from './policy.js';
import { SnsVerifier, parseSnsEnvelope, sesEvents } from './ses.js';
import { authenticatePostmark, postmarkEvents, postmarkSecrets } from './postmark.js';
import { mailgunEvents, parseMailgun, verifyMailgun } from './mailgun.js';
import type { BounceReport } from './types.js';
import { withDeadline } from '../../net/deadline.js';
import { processEnvironment } from '../../config/environment.js';

const PROVIDERS = ['ses', 'postmark', 'mailgun'] as const;
type Provider = (typeof PROVIDERS)[number];

/**
 * Public bounce and complaint webhooks: POST /api/webhooks/bounces/{ses,postmark,mailgun}, and
 * POST /api/webhooks/bounces which tells the provider from the request. Each provider's own proof
 * (SNS signature, Postmark credentials, Mailgun HMAC) is checked before anything is read.
 */
export async function bounceWebhookRoutes(app: FastifyInstance, ctx: Context): Promise<void> {
  const config = ctx.config.bounces;
  const sns = new SnsVerifier(config.ses);
  const postmark = postmarkSecrets(config.postmark);
  const mailgunKey = config.mailgun.signingKeyEnv ? processEnvironment()[config.mailgun.signingKeyEnv] || undefined : undefined;
  const log = ctx.log.child({ component: 'bounces' });

  /** Processes a provider message once: retries and replays within the window change nothing. */
  async function once(
    provider: Provider,
    messageId: string | undefined,
    ttlS: number,
    work: () => Promise<BounceReport>,
  ): Promise<BounceReport & { duplicate?: boolean }> {
    if (!messageId) return work();
    const key = ctx.keys.webhookSeen(provider, messageId.slice(0, 200));
    if ((await ctx.redis.set(key, '1', 'EX', ttlS, 'NX')) !== 'OK') return { received: 0, suppressed: 0, counted: 0, ignored: 0, duplicate: true };
    try {
      return await work();
    } catch (err) {
      await ctx.redis.del(key);
      throw err;
    }
  }

  async function ses(request: FastifyRequest) {
    if (!sns.enabled) throw errors.WEBHOOK_NOT_CONFIGURED('ses');
    const message = parseSnsEnvelope(request.body);
    await sns.verify(message);
    if (message.Type === 'SubscriptionConfirmation') {
      const url = sns.trustedUrl(message.SubscribeURL);
      if (!config.ses.autoConfirm || !url) {
        log.warn({ topic: message.TopicArn }, 'SNS subscription confirmation received; confirm it in the AWS console');
        return { confirmed: false };
      }
      const status = await withDeadline(
        10_000,
        async (signal) => {
          const response = await fetch(url.href, { redirect: 'error', signal });
          await response.body?.cancel().catch(() => undefined);
          return response.status;
        },
        { what: 'confirming the SNS subscription' },
      );
      if (status < 200 || status > 299) throw new Error(`confirming the SNS subscription failed: HTTP ${status}`);
      log.info({ topic: message.TopicArn }, 'SNS subscription confirmed');
      return { confirmed: true };
    }
    if (message.Type === 'UnsubscribeConfirmation') return { received: 0, suppressed: 0, counted: 0, ignored: 0 };
    return once('ses', message.MessageId, config.ses.maxAgeS, () => recordBounces(ctx, sesEvents(message.Message), 'ses'));
  }

  async function postmarkHook(request: FastifyRequest) {
    if (!postmark) throw errors.WEBHOOK_NOT_CONFIGURED('postmark');
    authenticatePostmark(request, postmark);
    const { id, events } = postmarkEvents(request.body);
    return once('postmark', id, 7 * 24 * 3600, () => recordBounces(ctx, events, 'postmark'));
  }

  async function mailgun(request: FastifyRequest) {
    if (!mailgunKey) throw errors.WEBHOOK_NOT_CONFIGURED('mailgun');
    const hook = parseMailgun(request.body);
    verifyMailgun(hook, mailgunKey, config.mailgun.maxAgeS);
    // The token is single use: a captured request cannot be replayed within the window.
    return once('mailgun', hook.signature.token, config.mailgun.maxAgeS * 2, () => recordBounces(ctx, mailgunEvents(hook), 'mailgun'));
  }

  const handlers: Record<Provider, (request: FastifyRequest) => Promise<unknown>> = { ses, postmark: postmarkHook, mailgun };

  for (const provider of PROVIDERS) app.post(`/api/webhooks/bounces/${provider}`, (request) => handlers[provider](request));

  app.post('/api/webhooks/bounces', async (request) => {
    const body = request.body as Record<string, unknown> | string | null;
    if (request.headers['x-amz-sns-message-type']) return ses(request);
    if (body && typeof body === 'object' && 'signature' in body && 'event-data' in body) return mailgun(request);
    if (body && typeof body === 'object' && 'RecordType' in body) return postmarkHook(request);
    throw errors.BODY_INVALID('could not tell which provider sent this; post to /api/webhooks/bounces/ses, /postmark or /mailgun');
  });
}
