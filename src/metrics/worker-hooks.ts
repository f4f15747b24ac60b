import type { Context } from '../context.js';
import type { MailTransport } from '../channels/email/transport.js';
import { startStatusNotifier, type NotifierOptions } from '../notify/notifier.js';
import { LatencyRecorder } from './latency.js';
import { timeTransport, type ObserveSend } from './instrument.js';

export interface WorkerHooks {
  /** The transport the email worker should use: the same one, timed. */
  transport(transport: MailTransport): MailTransport;
  /** Adds one send (an SMTP hand-off, or a whole thread) to the latency histogram. */
  observe: ObserveSend;
  /** Flushes the last latency samples and stops the status notifier. */
  stop(): Promise<void>;
}

/** What `startWorkers` runs beside the queue workers: send-latency recording and status webhooks. */
export function startWorkerHooks(ctx: Context, options: NotifierOptions = {}): WorkerHooks {
  const log = ctx.log.child({ component: 'metrics' });
  const latency = new LatencyRecorder(ctx.redis, ctx.keys, ctx.config.metrics.latencyFlushMs, (err) =>
    log.warn({ err: err.message }, 'could not record send latency; will try again'),
  );
  const observe = latency.observe.bind(latency);
  const notifier = startStatusNotifier(ctx, options);
  return {
    transport: (transport) => timeTransport(transport, observe),
    observe,
    async stop() {
      await Promise.all([latency.stop(), notifier.stop()]);
    },
  };
}
