import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
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

export function smtpTransport(config: Config['email'], url: string): MailTransport {
  const transporter = nodemailer.createTransport({
    url,
    pool: true,
    maxConnections: config.pool.maxConnections,
    maxMessages: config.pool.maxMessages,
    // Fail a dead server in seconds so the job is retried later, instead of hanging for minutes.
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 60_000,
    // SMTP_URL may carry ?tls.rejectUnauthorized=false for a local catcher; nothing else is implied.
  } as nodemailer.TransportOptions);
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
