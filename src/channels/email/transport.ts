import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import nodemailer, { type TransportOptions } from 'nodemailer';
import type { Config } from '../../config/schema.js';

/** The smallest mail transport Tocsin needs; nodemailer's SMTP pool implements it. */
export interface MailTransport {
  /** Sends a finished RFC 5322 message. Resolves with the server's reply once it accepted it. */
  send(message: { from: string; to: string; raw: Buffer | string }): Promise<{ response: string }>;
  verify(): Promise<void>;
  close(): void;
}

/** SMTP when SMTP_URL is set; otherwise an outbox folder of .eml files (first runs and demos). */
export function createMailTransport(config: Config['email']): MailTransport {
  return config.smtpUrl ? smtpTransport(config, config.smtpUrl) : outboxTransport(config.outboxDir);
}

export function outboxTransport(dir: string): MailTransport {
  let counter = 0;
  return {
    async send({ raw }) {
      await mkdir(dir, { recursive: true });
      const name = `${Date.now()}-${process.pid}-${++counter}.eml`;
      await writeFile(join(dir, name), raw);
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

/** nodemailer options of Tocsin's SMTP pool; the benchmark's baselines use the same. */
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
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 60_000,
    getSocket: noDelaySocket,
    // SMTP_URL may carry ?tls.rejectUnauthorized=false for a local catcher; nothing else is implied.
  } as TransportOptions;
}

export function smtpTransport(config: Config['email'], url: string): MailTransport {
  const transporter = nodemailer.createTransport(smtpTransportOptions(config, url));
  return {
    async send({ from, to, raw }) {
      const info = await transporter.sendMail({ envelope: { from, to: [to] }, raw });
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

export type SmtpFailure = { permanent: boolean; reason: string };

/** 5xx replies are permanent; 4xx replies, refused connections and timeouts are transient. */
export function classifySmtpError(err: unknown): SmtpFailure {
  const e = err as { responseCode?: number; response?: string; code?: string; message?: string };
  const reason = (e.response || e.message || String(err)).replace(/[\r\n]+/g, ' ').slice(0, 500);
  if (typeof e.responseCode === 'number' && e.responseCode >= 500 && e.responseCode < 600) return { permanent: true, reason };
  return { permanent: false, reason: e.code && !reason.includes(e.code) ? `${e.code}: ${reason}` : reason };
}
