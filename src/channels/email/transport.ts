import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import nodemailer, { type TransportOptions } from 'nodemailer';
import type { Config } from '../../config/schema.js';
import { SmtpPool } from './smtp-pool.js';
import { parseSmtpUrl } from './smtp-url.js';
import { DkimSigner } from './dkim-signer.js';
import { loadDkimKeys } from './dkim-keys.js';
import { signingTransport } from './signing-transport.js';
import { dotUnstuff } from './dot-stuff.js';
import { errors } from '../../errors.js';
import type { MailTransport, OutgoingMail } from './mail-transport.js';
import { processEnvironment } from '../../config/environment.js';

export type { MailTransport, OutgoingMail } from './mail-transport.js';

/** One finished RFC 5322 message and its envelope. */

/**
 * SMTP when SMTP_URL is set (Tocsin's own sender, or nodemailer with `email.sender: nodemailer`);
 * otherwise an outbox folder of .eml files (first runs and demos). With `email.dkim` set, every
 * message is signed on its way through, whichever transport sends it.
 */
export function createMailTransport(config: Config['email'], env: NodeJS.ProcessEnv = processEnvironment()): MailTransport {
  const signer = config.dkim ? new DkimSigner(loadDkimKeys(config.dkim, env)) : undefined;
  const transport = !config.smtpUrl
    ? outboxTransport(config.outboxDir)
    : config.sender === 'nodemailer'
      ? smtpTransport(config, config.smtpUrl)
      : smtpSender(config, config.smtpUrl);
  return signer ? signingTransport(transport, signer) : transport;
}

/** Tocsin's own SMTP sender (src/channels/email/smtp-pool.ts): pipelined, pooled, with deadlines. */
export function smtpSender(config: Config['email'], url: string, extra: { ca?: string | Buffer } = {}): SmtpPool {
  let endpoint: ReturnType<typeof parseSmtpUrl>;
  try {
    endpoint = parseSmtpUrl(url);
  } catch (err) {
    throw errors.CONFIG_INVALID(`email.smtpUrl: ${(err as Error).message}`);
  }
  return new SmtpPool({
    ...endpoint,
    maxConnections: config.pool.maxConnections,
    maxMessages: config.pool.maxMessages,
    timeouts: config.timeouts,
    ca: extra.ca,
  });
}

/** The message as a file or a library that dot-stuffs by itself wants it. */
const plainRaw = (m: OutgoingMail): Buffer | string => (m.dotStuffed ? dotUnstuff(typeof m.raw === 'string' ? Buffer.from(m.raw, 'utf8') : m.raw) : m.raw);

export function outboxTransport(dir: string): MailTransport {
  let counter = 0;
  return {
    async send(message) {
      await mkdir(dir, { recursive: true });
      const name = `${Date.now()}-${process.pid}-${++counter}.eml`;
      await writeFile(join(dir, name), plainRaw(message));
      return { response: `250 written to ${join(dir, name)}` };
    },
    async verify() {
      await mkdir(dir, { recursive: true });
    },
    close() {},
  };
}

const require = createRequire(import.meta.url);
// nodemailer's own SMTP_URL parser: host, port, secure, auth and ?tls.rejectUnauthorized=false style options.
const { parseConnectionUrl } = require('nodemailer/lib/shared') as { parseConnectionUrl: (url: string) => Record<string, unknown> };

// Nagle's algorithm holds the 5-byte "\r\n.\r\n" that ends each message until the server ACKs the
// body, and servers delay that ACK (40 ms on Linux), so a connection sends at most ~25 messages a
// second whatever the server could take (bench/README.md). nodemailer has no TCP_NODELAY option;
// getSocket hands it sockets opened here with it set, and nodemailer still does TLS/STARTTLS itself.
type SocketOptions = { host?: string; port?: number | string; secure?: boolean };
function noDelaySocket(options: SocketOptions, callback: (err: Error | null, socket?: { connection: Socket }) => void): void {
  const port = Number(options.port) || (options.secure ? 465 : 587);
  callback(null, { connection: connect({ host: options.host || 'localhost', port, noDelay: true }) });
}

/** nodemailer options of the nodemailer SMTP pool (`email.sender: nodemailer`, and the benchmark's baseline (a)). */
export function smtpTransportOptions(config: Config['email'], url: string): TransportOptions {
  return {
    // Not `url`: given { url, ... }, createTransport builds its transport from the URL alone and
    // drops every other option, so there was no pool (a new connection per message) and none of
    // the timeouts below applied.
    ...parseConnectionUrl(url),
    pool: true,
    maxConnections: config.pool.maxConnections,
    maxMessages: config.pool.maxMessages,
    // Fail a dead server in seconds so the job is retried later, instead of hanging for minutes.
    connectionTimeout: config.timeouts.connectionMs,
    greetingTimeout: config.timeouts.greetingMs,
    socketTimeout: config.timeouts.dataMs,
    getSocket: noDelaySocket,
    // SMTP_URL may carry ?tls.rejectUnauthorized=false for a local catcher; nothing else is implied.
  } as TransportOptions;
}

export function smtpTransport(config: Config['email'], url: string): MailTransport {
  const transporter = nodemailer.createTransport(smtpTransportOptions(config, url));
  return {
    async send(message) {
      const info = await transporter.sendMail({ envelope: { from: message.from, to: [message.to] }, raw: plainRaw(message) });
      return { response: String(info.response ?? '') };
    },
    async verify() {
      await transporter.verify();
    },
    close() {
      transporter.close();
    },
  };
}

export type SmtpFailure = {
  permanent: boolean;
  reason: string;
  /**
   * The connection was lost (or no reply came) after the message's final dot was sent: the server
   * may have accepted it. Not permanent; a resend may be a duplicate (with the same Message-ID).
   */
  afterData: boolean;
};

/**
 * The one place SMTP outcomes are classified, for Tocsin's sender and nodemailer alike: 5xx replies
 * to MAIL, RCPT, DATA or the final dot are permanent (the server's reply is the reason); 4xx replies,
 * connection-level refusals (greeting, AUTH, TLS), refused connections, timeouts and
 * connections lost before the final dot are transient (safe to retry); a connection lost after the
 * final dot is transient with `afterData` set (outcome unknown). An address SMTP cannot carry is permanent.
 */
export function classifySmtpError(err: unknown): SmtpFailure {
  const e = err as { responseCode?: number; response?: string; code?: string; message?: string; afterData?: boolean };
  const reason = (e.response || e.message || String(err)).replace(/[\r\n]+/g, ' ').slice(0, 500);
  const afterData = e.afterData === true || e.code === 'EAFTERDATA';
  // A 5xx to the greeting, EHLO, STARTTLS or AUTH is about the connection (a wrong password, a
  // relay that refuses us), not the recipient: fixed, the send goes on by itself.
  const connectionLevel = e.code === 'EAUTH' || e.code === 'ETLS' || e.code === 'EPROTOCOL' || e.code === 'ECONNECTION';
  if (typeof e.responseCode === 'number' && e.responseCode >= 500 && e.responseCode < 600 && !connectionLevel)
    return { permanent: true, reason, afterData: false };
  if (e.code === 'EADDRESS') return { permanent: true, reason, afterData: false };
  // A reply speaks for itself ("450 4.2.1 mailbox busy"); otherwise the code says what happened.
  const withCode = e.code && typeof e.responseCode !== 'number' && !reason.includes(e.code);
  return { permanent: false, reason: withCode ? `${e.code}: ${reason}` : reason, afterData };
}
