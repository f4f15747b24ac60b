import nodemailer, { type TransportOptions } from 'nodemailer';
import type { RenderedEmail } from '../src/render/email.js';
import { personalise } from '../src/render/email.js';
import { personalLinks } from '../src/publish/links.js';
import type { Config } from '../src/config/schema.js';
import * as transportModule from '../src/channels/email/transport.js';
import { BENCH_FROM, BENCH_PUBLIC_URL, BENCH_SECRET, benchConfig } from './lib/config.js';
import { rawBlast } from './lib/raw-blast.js';
import { MimeTemplate } from '../src/channels/email/mime.js';
import { DkimSigner } from '../src/channels/email/dkim-signer.js';
import { loadDkimKeys } from '../src/channels/email/dkim-keys.js';

// The two baselines, each in a process of its own like the pipeline's worker:
//   loop: nodemailer sendMail with the full message object per recipient (nodemailer builds the
//         MIME every time), `concurrency` calls in flight at once, over nodemailer's SMTP pool
//         with the pipeline's pool settings (smtpTransportOptions from transport.ts);
//   raw:  the pipeline's own message for one recipient (MimeTemplate, DKIM-signed once when the
//         run signs), built once and written straight to the same number of sockets with
//         PIPELINING (bench/lib/raw-blast.ts): the upper bound for any sender.

type OptionsFn = (email: Config['email'], url: string) => TransportOptions;
const shared = (transportModule as unknown as { smtpTransportOptions?: OptionsFn }).smtpTransportOptions;

/** What smtpTransport passes to nodemailer, for a transport.ts that does not export it. */
const copiedOptions: OptionsFn = (email, url) =>
  ({
    url,
    pool: true,
    maxConnections: email.pool.maxConnections,
    maxMessages: email.pool.maxMessages,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 60_000,
  }) as TransportOptions;

export const transportOptionsSource = shared ? 'smtpTransportOptions() from transport.ts' : "a copy of smtpTransport's nodemailer options";

export interface BaselineJob {
  type: 'start';
  mode: 'loop' | 'raw';
  n: number;
  /** The run's configuration overrides (BENCH_CONFIG), so the pool is configured alike. */
  overrides: Record<string, unknown>;
  concurrency: number;
  email: RenderedEmail;
  recipientFor: string; // "loop{i}@example.org" pattern: {i} is replaced by the index
}

const links = { config: { http: { publicUrl: BENCH_PUBLIC_URL } }, secret: BENCH_SECRET } as Parameters<typeof personalLinks>[0];
const listId = `<alerts.${new URL(BENCH_PUBLIC_URL).hostname}>`;
const envelopeFrom = /<([^>]+)>/.exec(BENCH_FROM)?.[1] as string;

function message(email: RenderedEmail, i: number, to: string) {
  const personal = personalLinks(links, i);
  return {
    from: BENCH_FROM,
    to,
    subject: email.subject,
    text: personalise(email.text, personal),
    html: personalise(email.html, personal),
    messageId: `<alert.bench.${i}@bench.example.org>`,
    headers: {
      'List-Id': listId,
      'List-Unsubscribe': `<${personal.unsubscribeUrl}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      'Auto-Submitted': 'auto-generated',
      'X-Auto-Response-Suppress': 'OOF, AutoReply',
      'Content-Language': email.language,
    },
  };
}

/** The pipeline's message for recipient 0, in wire form, signed once when the run signs. */
async function prerendered(job: BaselineJob, email: ReturnType<typeof benchConfig>['email'], to: string): Promise<Buffer> {
  const mime = new MimeTemplate(job.email, { from: BENCH_FROM, listId });
  const message = mime.message({ to, messageId: '<alert.bench.0@bench.example.org>', ...personalLinks(links, 0) });
  if (!email.dkim) return message.raw;
  return new DkimSigner(loadDkimKeys(email.dkim)).sign(message.raw, { dotStuffed: true, bodyHash: message.bodyHash });
}

async function run(job: BaselineJob) {
  const email = benchConfig(job.overrides).email;
  const rcpt = (i: number) => job.recipientFor.replace('{i}', String(i));
  if (job.mode === 'raw') {
    const wire = await prerendered(job, email, rcpt(0));
    const url = new URL(email.smtpUrl as string);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const result = await rawBlast({
      host: url.hostname,
      port: Number(url.port),
      connections: email.pool.maxConnections,
      count: job.n,
      from: envelopeFrom,
      recipient: rcpt,
      wire,
    });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return {
      seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      errors: result.errors,
      firstError: result.firstError,
      messageBytes: wire.length,
      transportOptions: `raw sockets with PIPELINING, ${email.pool.maxConnections} connections${email.dkim ? ', signed once (DKIM)' : ''}`,
    };
  }
  const transporter = nodemailer.createTransport((shared ?? copiedOptions)(email, email.smtpUrl as string));
  let next = 0;
  let errors = 0;
  let firstError = '';
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const sender = async () => {
    for (let i = next++; i < job.n; i = next++) {
      const to = rcpt(i);
      try {
        await transporter.sendMail(message(job.email, i, to));
      } catch (err) {
        errors++;
        firstError ||= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, sender));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  transporter.close();
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, errors, firstError, messageBytes: undefined, transportOptions: transportOptionsSource };
}

process.on('message', (m: BaselineJob) => {
  if (m.type !== 'start') return;
  run(m).then(
    (result) => process.send?.({ type: 'done', ...result }, () => process.exit(0)),
    (err: Error) => process.send?.({ type: 'error', message: err.message }, () => process.exit(1)),
  );
});
process.on('disconnect', () => process.exit(1));
process.send?.({ type: 'ready' });
