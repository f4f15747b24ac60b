import { randomBytes } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { Context } from '../context.js';
import { createMailTransport, type MailTransport } from '../channels/email/transport.js';
import { assertHeaderSafe, envelopeAddress } from '../channels/email/mime.js';
import { maskEmail } from '../domain/subscriber.js';
import { renderSubscriptionEmail, type SubscriptionEmailData, type SubscriptionEmailKind } from '../render/subscription-emails.js';

export interface SubscriptionMail extends SubscriptionEmailData {
  kind: SubscriptionEmailKind;
  to: string;
}

/**
 * Sends confirmation, welcome and goodbye emails straight through the mail transport the alert
 * worker uses (pooled SMTP, or the outbox folder when SMTP_URL is unset), one recipient per message, from the process that handled the
 * request. They are not queued: a queue job would keep the address in Redis job data for days,
 * and these mails are few and worthless if late. A lost one is requested again by the person.
 */
export class SubscriptionMailer {
  private transport?: MailTransport;

  constructor(
    private readonly ctx: Pick<Context, 'config' | 'log'>,
    transport?: MailTransport,
  ) {
    this.transport = transport;
  }

  /** Builds the finished RFC 5322 message; exported for tests and previews. */
  async compose(mail: SubscriptionMail): Promise<{ raw: Buffer; messageId: string }> {
    const { config } = this.ctx;
    const rendered = await renderSubscriptionEmail(mail.kind, config, mail);
    const domain = envelopeAddress(config.email.from).split('@')[1] ?? 'tocsin.invalid';
    const messageId = `<${mail.kind}.${randomBytes(12).toString('hex')}@${domain}>`;
    const headers: Record<string, string> = {
      'Auto-Submitted': 'auto-generated',
      'X-Auto-Response-Suppress': 'OOF, AutoReply',
      'Content-Language': rendered.language,
    };
    // Only the welcome email is a list message; the confirmation goes to someone not yet on it.
    if (mail.kind === 'welcome' && mail.unsubscribeUrl) {
      headers['List-Unsubscribe'] = `<${assertHeaderSafe('List-Unsubscribe', mail.unsubscribeUrl)}>`;
      headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
    }
    const composer = new MailComposer({
      from: config.email.from,
      to: assertHeaderSafe('To', mail.to),
      subject: rendered.subject,
      text: rendered.text,
      html: rendered.html,
      messageId,
      headers,
      date: new Date(),
    });
    const raw = await new Promise<Buffer>((resolve, reject) =>
      composer.compile().build((err: Error | null, message: Buffer) => (err ? reject(err) : resolve(message))),
    );
    return { raw, messageId };
  }

  async send(mail: SubscriptionMail): Promise<void> {
    const { config, log } = this.ctx;
    if (!config.email.enabled) {
      log.warn({ kind: mail.kind }, 'email is disabled; subscription email not sent');
      return;
    }
    const { raw, messageId } = await this.compose(mail);
    this.transport ??= createMailTransport(config.email);
    await this.transport.send({ from: envelopeAddress(config.email.from), to: mail.to, raw });
    log.info({ kind: mail.kind, recipient: maskEmail(mail.to), messageId }, 'subscription email sent');
  }

  close(): void {
    this.transport?.close();
    this.transport = undefined;
  }
}
