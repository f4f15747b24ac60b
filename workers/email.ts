import { Worker } from 'bullmq';
import type { Context } from '../src/context.js';
import type { Outcome } from '../src/store/ledger.js';
import type { RenderedEmail } from '../src/render/email.js';
import type { Processor } from '../src/queue/attempt.js';
import { classifySmtpError, type MailTransport } from '../src/channels/email/transport.js';
import { MimeTemplate, envelopeAddress, messageIdFor } from '../src/channels/email/mime.js';
import { isConnectionFailure, isUnknownRecipient } from '../src/channels/email/replies.js';
import { SmtpBreaker } from '../src/channels/email/breaker.js';
import { maskEmailsIn } from '../src/domain/subscriber.js';
import { recordBounce } from '../src/subscriptions/bounces/policy.js';
import { EMAIL_CHANNEL, loadRendered } from '../src/publish/rendered.js';
import { personalLinks } from '../src/publish/links.js';
import { backoffDelay } from '../src/queue/queues.js';
import { LeaseLost } from '../src/delivery/lease.js';
import { withDeadline } from '../src/net/deadline.js';

const TEMPLATE_CACHE_SIZE = 8;

type Tally = Record<'sent' | 'failed' | 'retrying' | 'skipped', number>;

/**
 * Sends one batch: claims in the ledger, under this attempt's fencing token, the recipients that
 * still need this alert, sends each (personalised MIME, deterministic Message-ID) and records every
 * outcome as soon as the server answers. Before each message it checks that the attempt still holds
 * the job: a worker that froze past its lock stops, having sent at most what was already handed to
 * the server. Transient failures make the job retry later, for the recipients not yet sent only.
 */
export function createEmailProcessor(ctx: Context, transport: MailTransport): Processor<'email-batch'> {
  const templates = new Map<string, MimeTemplate>();
  const from = ctx.config.email.from;
  const envelopeFrom = envelopeAddress(from);
  const listId = `<alerts.${new URL(ctx.config.http.publicUrl).hostname}>`;
  const breaker = new SmtpBreaker(ctx.config.email.breaker);
  const deadlineMs = ctx.config.email.sendDeadlineMs;

  async function template(alertId: string): Promise<MimeTemplate | null> {
    let t = templates.get(alertId);
    if (t) return t;
    const rendered = await loadRendered<RenderedEmail>(ctx, alertId, EMAIL_CHANNEL);
    if (!rendered) return null;
    t = new MimeTemplate(rendered, { from, listId });
    if (templates.size >= TEMPLATE_CACHE_SIZE) templates.delete(templates.keys().next().value as string);
    templates.set(alertId, t);
    return t;
  }

  return async ({ job, token, lease, worker }) => {
    const { alertId, subscriberIds } = job.data;
    const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const tally: Tally = { sent: 0, failed: 0, retrying: 0, skipped: 0 };
    const mime = await template(alertId);
    if (!mime) throw new Error(`alert ${alertId} has no rendered email; was it published?`);

    const claimed = await ctx.ledger.claim(alertId, EMAIL_CHANNEL, token, subscriberIds.map(String));
    const recipients = await ctx.subscribers.recipients(claimed.map((c) => Number(c.target)));
    const retryAt = Date.now() + backoffDelay(job.attemptsMade + 1, ctx.config.email.retry, job.id);
    let stop: { why: 'lease' | 'breaker'; pauseMs?: number; reason: string } | undefined;
    let lastTransient = '';

    // Each outcome is written as soon as it is known (ioredis pipelines the concurrent writes),
    // so a crash leaves at most one sent-but-unrecorded message per concurrent sender. A write
    // the ledger refuses means another attempt holds the recipient now: stop at once.
    const record = async (outcome: Outcome) => {
      const applied = await ctx.ledger.settle(alertId, EMAIL_CHANNEL, token, [outcome]);
      if (applied.length === 0) stop ??= { why: 'lease', reason: 'another attempt holds this batch' };
      else tally[outcome.state as keyof Tally]++;
    };

    const queue = claimed.slice();
    const sendNext = async (): Promise<void> => {
      for (let claim = queue.shift(); claim && !stop; claim = stop ? undefined : queue.shift()) {
        if (!lease.valid()) {
          queue.unshift(claim);
          stop ??= { why: 'lease', reason: 'the lease ran out' };
          break;
        }
        const recipient = recipients.get(Number(claim.target));
        if (!recipient) {
          await record({ target: claim.target, state: 'skipped', error: 'no longer subscribed' });
          continue;
        }
        const raw = mime.build({ to: recipient.email, messageId: messageIdFor(alertId, recipient.id, from), ...personalLinks(ctx, recipient.id) });
        try {
          const info = await withDeadline(deadlineMs, () => transport.send({ from: envelopeFrom, to: recipient.email, raw }), {
            what: 'handing the message to the SMTP server',
          });
          breaker.success();
          await record({ target: claim.target, state: 'sent', providerId: maskEmailsIn(info.response).slice(0, 200) });
        } catch (err) {
          const failure = classifySmtpError(err);
          const reason = maskEmailsIn(failure.reason);
          if (failure.permanent) {
            await record({ target: claim.target, state: 'failed', error: reason });
            // "No such user" is a hard bounce under the bounce policy, like one reported later.
            if (isUnknownRecipient(err as { responseCode?: number; response?: string }))
              await recordBounce(ctx, { email: recipient.email, kind: 'hard', detail: reason }, 'smtp');
            continue;
          }
          const pauseMs = isConnectionFailure(err) ? breaker.failure() : undefined;
          if (finalAttempt) await record({ target: claim.target, state: 'failed', error: `gave up after ${job.attemptsMade + 1} attempts: ${reason}` });
          else {
            lastTransient = reason;
            await record({ target: claim.target, state: 'retrying', error: reason, retryAt });
          }
          if (pauseMs) stop ??= { why: 'breaker', pauseMs, reason: `${ctx.config.email.breaker.failuresInARow} SMTP connection failures in a row (${reason})` };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(ctx.config.email.sendConcurrency, claimed.length) }, sendNext));

    if (stop?.why === 'lease') throw new LeaseLost(stop.reason);
    if (stop?.why === 'breaker' && stop.pauseMs) {
      const until = new Date(Date.now() + stop.pauseMs);
      // Not sent, not attempted: back to retrying, with the reason, for when the pause is over.
      const waiting = queue.map((c) => ({ target: c.target, state: 'retrying' as const, error: `email paused: ${stop?.reason}`, retryAt: until.getTime() }));
      await ctx.ledger.settle(alertId, EMAIL_CHANNEL, token, waiting);
      await ctx.health.recordPause(EMAIL_CHANNEL, ctx.config.email.breaker.failuresInARow, until, stop.reason);
      ctx.log.error({ alertId, pausedUntil: until.toISOString(), reason: stop.reason }, 'email paused by the circuit breaker');
      await worker.rateLimit(stop.pauseMs);
      throw Worker.RateLimitError();
    }

    if (tally.sent > 0) await ctx.health.recordDelivery(EMAIL_CHANNEL, true);
    else if (tally.retrying > 0) await ctx.health.recordDelivery(EMAIL_CHANNEL, false, lastTransient);
    if (tally.failed > 0) ctx.log.warn({ alertId, job: job.id, failed: tally.failed }, 'email recipients failed permanently');
    if (tally.retrying > 0) throw new Error(`${tally.retrying} recipient(s) will be retried: ${lastTransient}`);
    await ctx.publications.finishIfComplete(alertId);
    return tally;
  };
}
