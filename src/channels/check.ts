import type { Context } from '../context.js';
import type { HealthReport, Messenger } from './messenger.js';
import { createMailTransport } from './email/transport.js';
import { EMAIL_CHANNEL } from '../publish/rendered.js';
import { errorText } from './http-errors.js';
import { withDeadline } from '../net/deadline.js';

export interface ChannelCheck {
  channel: string;
  provider: string;
  report: HealthReport;
}

/**
 * Checks every account's credentials with its provider, and the SMTP server, each within
 * `deadlineMs`, and records each result on the health page. The CLI and the console share it.
 */
/** A credential check that takes longer than this is reported as failed. */
export const CHECK_DEADLINE_MS = 15_000;

export async function checkChannels(ctx: Context, accounts: Map<string, Messenger>, deadlineMs = CHECK_DEADLINE_MS): Promise<ChannelCheck[]> {
  const failed = (err: unknown): HealthReport => ({ ok: false, checkedAt: new Date().toISOString(), detail: errorText(err) });
  const checks = [...accounts.values()].map(async (account) => {
    const report = await withDeadline(deadlineMs, (signal) => account.checkHealth(signal), { what: `the check of ${account.id}` }).catch(failed);
    await ctx.health.recordCheck(account.id, report);
    return { channel: account.id, provider: account.provider, report };
  });
  if (ctx.config.email.enabled) {
    checks.push(
      (async () => {
        const transport = createMailTransport(ctx.config.email);
        const started = new Date().toISOString();
        const report = await withDeadline(deadlineMs, () => transport.verify(), { what: 'the SMTP check' })
          .then((): HealthReport => ({
            ok: true,
            checkedAt: started,
            detail: ctx.config.email.smtpUrl ? 'the SMTP server accepted the connection' : `no SMTP_URL: mail goes to ${ctx.config.email.outboxDir}/`,
          }))
          .catch(failed)
          .finally(() => transport.close());
        await ctx.health.recordCheck(EMAIL_CHANNEL, report);
        return { channel: EMAIL_CHANNEL, provider: ctx.config.email.smtpUrl ? 'smtp' : 'outbox', report };
      })(),
    );
  }
  return Promise.all(checks);
}
