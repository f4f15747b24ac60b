import type { Job } from 'bullmq';
import type { Context } from '../src/context.js';
import type { EmailBatchJob } from '../src/queue/jobs.js';
import type { Outcome } from '../src/store/ledger.js';
import type { RenderedEmail } from '../src/render/email.js';
import { classifySmtpError, type MailTransport } from '../src/channels/email/transport.js';
import { MimeTemplate, envelopeAddress, messageIdFor } from '../src/channels/email/mime.js';
import { EMAIL_CHANNEL, loadRendered } from '../src/publish/rendered.js';
import { personalLinks } from '../src/publish/links.js';
import { backoffDelay } from '../src/queue/queues.js';

const TEMPLATE_CACHE_SIZE = 8;

/**
 * Sends one batch: claims in the ledger the recipients that still need this alert, sends each
 * (personalised MIME, deterministic Message-ID), records every outcome. Transient failures make
 * the job retry later; a retry claims only the recipients that did not get the mail.
 */
export function createEmailProcessor(ctx: Context, transport: MailTransport) {
  const templates = new Map<string, MimeTemplate>();
  const from = ctx.config.email.from;
  const envelopeFrom = envelopeAddress(from);
  const listId = `<alerts.${new URL(ctx.config.http.publicUrl).hostname}>`;

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

  return async (job: Job<EmailBatchJob>): Promise<{ sent: number; failed: number; retrying: number; skipped: number; unknown: number }> => {
    const { alertId, subscriberIds } = job.data;
    const owner = job.id as string;
    const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const tally = { sent: 0, failed: 0, retrying: 0, skipped: 0, unknown: 0 };
    const mime = await template(alertId);
    if (!mime) throw new Error(`alert ${alertId} has no rendered email; was it published?`);

    const claimed = await ctx.ledger.claim(alertId, EMAIL_CHANNEL, owner, subscriberIds.map(String), 'resend');
    const recipients = await ctx.subscribers.recipients(claimed.map((c) => Number(c.target)));
    const retryAt = Date.now() + backoffDelay(job.attemptsMade + 1, ctx.config.email.retry, owner);
    // Each outcome is written as soon as it is known (ioredis pipelines the concurrent writes),
    // so a crash leaves at most one sent-but-unrecorded message per concurrent sender.
    const record = async (outcome: Outcome) => {
      tally[outcome.state as keyof typeof tally]++;
      await ctx.ledger.settle(alertId, EMAIL_CHANNEL, owner, [outcome]);
    };

    let lastTransient = '';
    const queue = claimed.slice();
    const sendNext = async (): Promise<void> => {
      for (let claim = queue.shift(); claim; claim = queue.shift()) {
        const recipient = recipients.get(Number(claim.target));
        if (!recipient) {
          await record({ target: claim.target, state: 'skipped', error: 'no longer subscribed' });
          continue;
        }
        // Wire form (dot-stuffed once per alert) with its DKIM body hash; the transport signs it.
        const message = mime.message({
          to: recipient.email,
          messageId: messageIdFor(alertId, recipient.id, from),
          ...personalLinks(ctx, recipient.id),
        });
        try {
          const info = await transport.send({ from: envelopeFrom, to: recipient.email, ...message });
          await record({ target: claim.target, state: 'sent', providerId: info.response.slice(0, 200) });
        } catch (err) {
          const failure = classifySmtpError(err);
          if (failure.permanent) await record({ target: claim.target, state: 'failed', error: failure.reason });
          // Lost after the final dot: the server may have it. Retried like any transient failure
          // (a duplicate carries the same Message-ID); on the last attempt it is `unknown`, not failed.
          else if (failure.afterData && finalAttempt) await record({ target: claim.target, state: 'unknown', error: `outcome unknown: ${failure.reason}` });
          else if (finalAttempt)
            await record({ target: claim.target, state: 'failed', error: `gave up after ${job.attemptsMade + 1} attempts: ${failure.reason}` });
          else {
            lastTransient = failure.reason;
            await record({ target: claim.target, state: 'retrying', error: failure.reason, retryAt });
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(ctx.config.email.sendConcurrency, claimed.length) }, sendNext));

    if (tally.failed > 0) ctx.log.warn({ alertId, job: owner, failed: tally.failed }, 'email recipients failed permanently');
    if (tally.retrying > 0) throw new Error(`${tally.retrying} recipient(s) will be retried: ${lastTransient}`);
    await ctx.publications.finishIfComplete(alertId);
    return tally;
  };
}
