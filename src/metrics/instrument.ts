import { performance } from 'node:perf_hooks';
import type { MailTransport } from '../channels/email/transport.js';
import { classifySmtpError } from '../channels/email/transport.js';
import { EMAIL_CHANNEL } from '../publish/rendered.js';
import type { SendResult } from './latency.js';

// Timing around each SMTP hand-off, so the email processor stays unaware of metrics. The account
// processor times each thread itself (workers/account.ts).

export type ObserveSend = (channel: string, seconds: number, result: SendResult) => void;

/**
 * Times each SMTP hand-off: from giving the message to the pool to the server's reply, including
 * any wait for a free pooled connection (that wait is part of what staff experience as slow).
 */
export function timeTransport(transport: MailTransport, observe: ObserveSend): MailTransport {
  return {
    async send(message) {
      const started = performance.now();
      try {
        const info = await transport.send(message);
        observe(EMAIL_CHANNEL, (performance.now() - started) / 1000, 'sent');
        return info;
      } catch (err) {
        observe(EMAIL_CHANNEL, (performance.now() - started) / 1000, classifySmtpError(err).permanent ? 'permanent' : 'transient');
        throw err;
      }
    },
    verify: () => transport.verify(),
    close: () => transport.close(),
  };
}
