import { performance } from 'node:perf_hooks';
import type { MailTransport } from '../channels/email/transport.js';
import { classifySmtpError } from '../channels/email/transport.js';
import { DeliveryError, type AccountChannel } from '../channels/types.js';
import { EMAIL_CHANNEL } from '../publish/rendered.js';
import type { SendResult } from './latency.js';

// Timing decorators around the two send paths, so the worker processors stay unaware of metrics.

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

const resultOf = (err: unknown): SendResult => {
  if (!(err instanceof DeliveryError)) return 'transient';
  return err.kind === 'unknown-outcome' ? 'unknown' : err.kind;
};

/** Times each `deliver` (a whole thread, for social accounts); everything else passes through untouched. */
export function timeAdapter(adapter: AccountChannel, observe: ObserveSend): AccountChannel {
  const deliver: AccountChannel['deliver'] = async (message, context) => {
    const started = performance.now();
    try {
      const part = await adapter.deliver(message, context);
      observe(adapter.id, (performance.now() - started) / 1000, 'sent');
      return part;
    } catch (err) {
      observe(adapter.id, (performance.now() - started) / 1000, resultOf(err));
      throw err;
    }
  };
  // A Proxy, not a copy: adapters may keep state in #private fields or getters.
  return new Proxy(adapter, {
    get(target, property) {
      if (property === 'deliver') return deliver;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
