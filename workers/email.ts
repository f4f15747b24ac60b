import { WaitingError, Worker } from 'bullmq';
import type { Context } from '../src/context.js';
import type { Outcome } from '../src/store/ledger.js';
import type { Processor } from '../src/queue/attempt.js';
import { classifySmtpError, type MailTransport } from '../src/channels/email/transport.js';
import { envelopeAddress, messageIdFor } from '../src/channels/email/mime.js';
import { isConnectionFailure, isUnknownRecipient } from '../src/channels/email/replies.js';
import { SmtpBreaker } from '../src/channels/email/breaker.js';
import { EmailTemplates } from '../src/channels/email/templates.js';
import { maskEmailsIn } from '../src/domain/subscriber.js';
import { recordBounce } from '../src/subscriptions/bounces/policy.js';
import { EMAIL_CHANNEL } from '../src/publish/rendered.js';
import { personalLinks } from '../src/publish/links.js';
import { QUEUE, backoffDelay, priorityFor } from '../src/queue/queues.js';
import { LaneWatch } from '../src/queue/lane.js';
import { LeaseLost } from '../src/delivery/lease.js';
import { withDeadline } from '../src/net/deadline.js';
import { deliveryChannel } from '../src/delivery/delivery-channel.js';
import { haltNote } from '../src/store/halts.js';
import { receivedVersions } from '../src/delivery/received.js';

type Tally = Record<'sent' | 'failed' | 'retrying' | 'skipped' | 'unknown', number>;

/**
 * Sends one batch: claims in the ledger, under this attempt's fencing token, the recipients that
 * still need this alert (or this version's follow-up), sends each (personalised MIME,
 * deterministic Message-ID) and records every outcome as soon as the server answers. Before each
 * message it checks that the attempt still holds the job and that the alert is not halted: a
 * worker that froze past its lock stops, having sent at most what was already in the server's
 * hands; a halt stops it at the next message. Transient failures make the job retry later, for
 * the recipients not yet sent only. A batch gives way when a batch of a higher level (an
 * emergency) is waiting: it hands back the recipients it has not tried and goes back to its queue,
 * first in line among its own level.
 */
export function createEmailProcessor(ctx: Context, transport: MailTransport): Processor<'email-batch'> {
  const from = ctx.config.email.from;
  const envelopeFrom = envelopeAddress(from);
  const templates = new EmailTemplates(ctx, { from, listId: `<alerts.${new URL(ctx.config.http.publicUrl).hostname}>` });
  const breaker = new SmtpBreaker(ctx.config.email.breaker);
  const deadlineMs = ctx.config.email.sendDeadlineMs;
  const lane = new LaneWatch(ctx.queues.get(QUEUE.email), ctx.config.email.laneCheckMs);

  return async ({ job, token, lease, worker }) => {
    const { alertId, subscriberIds } = job.data;
    const version = job.data.version ?? 1;
    const channel = deliveryChannel(EMAIL_CHANNEL, version);
    const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const priority = job.opts.priority || priorityFor(null);
    const tally: Tally = { sent: 0, failed: 0, retrying: 0, skipped: 0, unknown: 0 };
    const mime = await templates.get(alertId, version);
    if (!mime) throw new Error(`alert ${alertId} has no rendered email for version ${version}; was it published?`);

    const claimed = await ctx.ledger.claim(alertId, channel, token, subscriberIds.map(String));
    const ids = claimed.map((c) => Number(c.target));
    const [recipients, received] = await Promise.all([ctx.subscribers.recipients(ids), receivedVersions(ctx, alertId, version, ids)]);
    const retryAt = Date.now() + backoffDelay(job.attemptsMade + 1, ctx.config.email.retry, job.id);
    let stop: { why: 'lease' | 'breaker' | 'give-way'; pauseMs?: number; reason: string } | undefined;
    let lastTransient = '';

    // Each outcome is written as soon as it is known (ioredis pipelines the concurrent writes),
    // so a crash leaves at most one sent-but-unrecorded message per concurrent sender. A write
    // the ledger refuses means another attempt holds the recipient now: stop at once.
    const record = async (outcome: Outcome) => {
      const applied = await ctx.ledger.settle(alertId, channel, token, [outcome]);
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
        if (lane.higherWaiting(priority)) {
          queue.unshift(claim);
          stop ??= { why: 'give-way', reason: 'a batch of a higher level is waiting' };
          break;
        }
        const halt = await ctx.halts.stopping(alertId, version);
        if (halt) {
          await record({ target: claim.target, state: 'skipped', error: haltNote(halt), halted: true });
          continue;
        }
        const id = Number(claim.target);
        const recipient = recipients.get(id);
        if (!recipient) {
          await record({ target: claim.target, state: 'skipped', error: 'no longer subscribed' });
          continue;
        }
        // A follow-up threads to what this recipient had; one who had nothing gets the new version whole.
        const earlier = received.get(id) ?? [];
        const message = mime.message(earlier.length > 0 ? 'follow-up' : 'fresh', {
          to: recipient.email,
          messageId: messageIdFor(alertId, id, from, version),
          ...(earlier.length
            ? { inReplyTo: messageIdFor(alertId, id, from, earlier.at(-1)), references: earlier.map((v) => messageIdFor(alertId, id, from, v)) }
            : {}),
          ...personalLinks(ctx, id),
        });
        if (!message) {
          await record({ target: claim.target, state: 'skipped', error: 'a retraction goes only to those who received the alert' });
          continue;
        }
        try {
          const info = await withDeadline(deadlineMs, () => transport.send({ from: envelopeFrom, to: recipient.email, ...message }), {
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
          // Lost after the final dot: the server may have it. Retried like any transient failure
          // (a second copy carries the same Message-ID); on the last attempt it is `unknown`.
          if (finalAttempt && failure.afterData) await record({ target: claim.target, state: 'unknown', error: `outcome unknown: ${reason}` });
          else if (finalAttempt) await record({ target: claim.target, state: 'failed', error: `gave up after ${job.attemptsMade + 1} attempts: ${reason}` });
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
    if (stop?.why === 'give-way') {
      // Every send in flight has been recorded; what is left was never handed to the server.
      await ctx.ledger.release(
        alertId,
        channel,
        token,
        queue.map((c) => c.target),
      );
      lane.forget();
      ctx.log.info({ alertId, version, job: job.id, sent: tally.sent, handedBack: queue.length }, 'email batch gives way to a higher level');
      await job.moveToWait(token);
      throw new WaitingError();
    }
    if (stop?.why === 'breaker' && stop.pauseMs) {
      const until = new Date(Date.now() + stop.pauseMs);
      // Not sent, not attempted: back to retrying, with the reason, for when the pause is over.
      const waiting = queue.map((c) => ({ target: c.target, state: 'retrying' as const, error: `email paused: ${stop?.reason}`, retryAt: until.getTime() }));
      await ctx.ledger.settle(alertId, channel, token, waiting);
      await ctx.health.recordPause(EMAIL_CHANNEL, ctx.config.email.breaker.failuresInARow, until, stop.reason);
      ctx.log.error({ alertId, pausedUntil: until.toISOString(), reason: stop.reason }, 'email paused by the circuit breaker');
      await worker.rateLimit(stop.pauseMs);
      throw Worker.RateLimitError();
    }

    if (tally.sent > 0) await ctx.health.recordDelivery(EMAIL_CHANNEL, true);
    else if (tally.retrying > 0) await ctx.health.recordDelivery(EMAIL_CHANNEL, false, lastTransient);
    if (tally.failed > 0) ctx.log.warn({ alertId, version, job: job.id, failed: tally.failed }, 'email recipients failed permanently');
    if (tally.retrying > 0) throw new Error(`${tally.retrying} recipient(s) will be retried: ${lastTransient}`);
    await ctx.publications.finishIfComplete(alertId);
    return tally;
  };
}
