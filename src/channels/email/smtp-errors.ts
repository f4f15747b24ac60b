import type { SmtpReply } from './smtp-reply.js';

// What went wrong with one message, precisely enough for classifySmtpError (transport.ts) to
// decide: a reply code, or where the connection was lost relative to the final dot.

export type SmtpErrorCode =
  /** Could not connect, or the connection was lost before the message's final dot was sent. */
  | 'ECONNECTION'
  /** No reply in time, before the final dot was sent. */
  | 'ETIMEDOUT'
  /** The final dot was sent, then the connection was lost or no reply came: the server may have accepted it. */
  | 'EAFTERDATA'
  | 'ETLS'
  | 'EAUTH'
  /** The server said something that is not SMTP, or refused the greeting or EHLO. */
  | 'EPROTOCOL'
  /** The server answered MAIL FROM, RCPT TO or DATA with an error (see responseCode). */
  | 'EENVELOPE'
  /** The server answered the message's final dot with an error (see responseCode). */
  | 'EMESSAGE'
  /** An address Tocsin would not put on the wire (line breaks, angle brackets). */
  | 'EADDRESS'
  /** The transport was closed while the message waited. */
  | 'ECLOSED';

export class SmtpError extends Error {
  readonly responseCode?: number;
  /** The server's reply, as it said it. */
  readonly response?: string;
  /** True only for EAFTERDATA: the server may have the message, so a resend may be a duplicate. */
  readonly afterData: boolean;
  /** The command the reply answered (MAIL FROM, RCPT TO, DATA, end of DATA, AUTH...). */
  readonly command?: string;

  constructor(
    readonly code: SmtpErrorCode,
    message: string,
    options: { reply?: SmtpReply; command?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SmtpError';
    this.responseCode = options.reply?.code;
    this.response = options.reply?.text;
    this.afterData = code === 'EAFTERDATA';
    this.command = options.command;
  }
}

/** An error for a reply the server gave to `command`. */
export const replyError = (code: SmtpErrorCode, command: string, reply: SmtpReply): SmtpError =>
  new SmtpError(code, `${command}: ${reply.text}`, { reply, command });
