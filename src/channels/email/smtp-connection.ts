import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { hostname } from 'node:os';
import { ReplyReader, type SmtpReply } from './smtp-reply.js';
import { SmtpError, replyError, type SmtpErrorCode } from './smtp-errors.js';
import { endsWithCrlf } from './dot-stuff.js';
import type { SmtpEndpoint } from './smtp-url.js';

// One SMTP client connection (RFC 5321), written for sending many messages fast and telling
// exactly what happened to each:
// - With PIPELINING (RFC 2920) MAIL, RCPT and DATA go out in one write, and the next message's
//   MAIL/RCPT/DATA go out in the same write as this message's final dot: one round trip and one
//   write per message. Without it, one command at a time.
// - Every wait for a reply has a deadline (greeting, command, final dot). The timer is a plain
//   setTimeout held by this connection and the event loop until it fires or is cleared, so garbage
//   collection cannot lose it (see src/net/deadline.ts for why that matters).
// - A lost connection is told apart by whether the message's final dot had left this process:
//   before, nothing was accepted (safe to retry); after, the server may have it (EAFTERDATA).

export interface SmtpTimeouts {
  /** TCP connect plus TLS handshake. */
  connectionMs: number;
  /** From connected to the server's 220 greeting. */
  greetingMs: number;
  /** Each reply to EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, RSET. */
  commandMs: number;
  /** From the final dot to the server's reply: past it the outcome is unknown. */
  dataMs: number;
}

export interface SmtpConnectionOptions extends SmtpEndpoint {
  timeouts: SmtpTimeouts;
  /** Extra trusted CA certificates (tests, private relays); NODE_EXTRA_CA_CERTS works too. */
  ca?: string | Buffer | Array<string | Buffer>;
}

/** One message as the pool hands it over: the envelope and the bytes to put after DATA. */
export interface SmtpTask {
  from: string;
  to: string;
  /** CRLF line ends, dot-stuffed: written as it is. */
  wire: Buffer;
  /** Set when the final dot was given to the socket. */
  dotWritten?: boolean;
  /** Set once the write holding the final dot was handed to the operating system. */
  dotFlushed?: boolean;
  resolve(reply: SmtpReply): void;
  reject(err: SmtpError): void;
}

interface Waiter {
  resolve(reply: SmtpReply): void;
  reject(err: SmtpError): void;
  ms: number;
  what: string;
  /** True for the reply to a final dot: a timeout or a lost connection then means EAFTERDATA. */
  afterDot?: SmtpTask;
}

/** Replies to one message's MAIL, RCPT and DATA, in flight. */
interface Envelope {
  mail: Promise<SmtpReply>;
  rcpt: Promise<SmtpReply>;
  data: Promise<SmtpReply>;
}

const noop = () => {};
const quiet = <T>(p: Promise<T>): Promise<T> => {
  p.catch(noop);
  return p;
};

/** The name we give in EHLO: this machine's, when it is a full domain name, else an address literal. */
function ehloName(configured?: string): string {
  if (configured) return configured;
  const name = hostname();
  return name.includes('.') && /^[A-Za-z0-9.-]+$/.test(name) ? name : '[127.0.0.1]';
}

/** Addresses go into commands as they are; a line break or bracket in one would let it add commands. */
function checkAddress(address: string, role: string): void {
  if (!address || /[\x00-\x1f\x7f<>\s]/.test(address))
    throw new SmtpError('EADDRESS', `${role} address is not one SMTP can carry (line break, space or angle bracket)`);
}

/** The connection is gone; `requeue` is a message whose envelope was written but whose data was not. */
export class Interrupted extends Error {
  constructor(
    readonly err: SmtpError,
    readonly requeue?: SmtpTask,
  ) {
    super(err.message);
    this.name = 'Interrupted';
  }
}

export class SmtpConnection {
  private socket!: Socket | TLSSocket;
  private readonly waiters: Waiter[] = [];
  private timer?: NodeJS.Timeout;
  private timerMs = 0;
  private reader: ReplyReader;
  private dead?: SmtpError;
  private extensions = new Map<string, string>();
  /** Messages whose final reply came back (either way) on this connection. */
  messages = 0;
  /** Called once when the connection is gone, whatever the reason. */
  onClose: (err: SmtpError) => void = noop;

  constructor(private readonly options: SmtpConnectionOptions) {
    this.reader = new ReplyReader(
      (reply) => this.reply(reply),
      (line) => this.fail(new SmtpError('EPROTOCOL', `the server sent something that is not an SMTP reply: ${JSON.stringify(line.slice(0, 120))}`)),
    );
  }

  get closed(): boolean {
    return this.dead !== undefined;
  }

  get pipelining(): boolean {
    return this.extensions.has('PIPELINING');
  }

  /** Connects, reads the greeting, says EHLO, upgrades with STARTTLS when it should, logs in. */
  async open(): Promise<void> {
    const o = this.options;
    await this.connect();
    const greeting = await this.expect(o.timeouts.greetingMs, 'greeting');
    if (greeting.code !== 220) throw this.fail(replyError('EPROTOCOL', 'greeting', greeting));
    await this.ehlo();
    if (!o.secure && !o.ignoreTLS && this.extensions.has('STARTTLS')) {
      const reply = await this.command('STARTTLS');
      if (reply.code !== 220) throw this.fail(replyError('ETLS', 'STARTTLS', reply));
      await this.upgrade();
      await this.ehlo();
    } else if (!o.secure && o.requireTLS) {
      throw this.fail(new SmtpError('ETLS', 'the server does not offer STARTTLS and SMTP_URL has ?requireTLS=true'));
    }
    if (o.auth) await this.login(o.auth.user, o.auth.pass);
  }

  /**
   * Sends one message. With pipelining, `more()` may give the next message, whose MAIL/RCPT/DATA
   * are then written together with this message's final dot; it is returned with its replies in
   * flight and must be passed back as `envelope` for the next call.
   */
  async transact(task: SmtpTask, envelope?: Envelope, more?: () => SmtpTask | undefined): Promise<{ task: SmtpTask; envelope: Envelope } | undefined> {
    const { dataMs } = this.options.timeouts;
    let mail: SmtpReply;
    let rcpt: SmtpReply;
    let data: SmtpReply;
    try {
      if (this.pipelining) {
        const env = envelope ?? this.writeEnvelope(task);
        mail = await env.mail;
        rcpt = await env.rcpt;
        data = await env.data;
      } else {
        mail = await this.command(this.mailCommand(task));
        rcpt = mail.code === 250 ? await this.command(`RCPT TO:<${task.to}>`) : mail;
        data = rcpt.code === 250 || rcpt.code === 251 ? await this.command('DATA') : rcpt;
      }
    } catch (err) {
      task.reject(err as SmtpError);
      throw new Interrupted(err as SmtpError);
    }
    if (mail.code !== 250 || (rcpt.code !== 250 && rcpt.code !== 251) || data.code !== 354) {
      // A server that said 354 although no recipient was accepted gets an empty message (RFC 2920 3.1).
      const [command, reply] = mail.code !== 250 ? ['MAIL FROM', mail] : rcpt.code !== 250 && rcpt.code !== 251 ? ['RCPT TO', rcpt] : ['DATA', data];
      task.reject(replyError('EENVELOPE', command, reply));
      this.messages++;
      try {
        if (data.code === 354) {
          this.write('.\r\n');
          await this.expect(dataMs, 'empty DATA');
        }
        // The transaction is half open on the server (MAIL given): RSET before the next one.
        const reset = await this.command('RSET');
        if (reset.code !== 250) throw this.fail(replyError('EPROTOCOL', 'RSET', reset));
      } catch (err) {
        throw new Interrupted(err as SmtpError);
      }
      return undefined;
    }
    const final = quiet(this.expect(dataMs, 'the reply to the final dot', task));
    const next = this.pipelining ? more?.() : undefined;
    const nextEnvelope = next ? this.envelope(next) : undefined;
    this.writeMessage(task, nextEnvelope?.commands);
    let reply: SmtpReply;
    try {
      reply = await final;
    } catch (err) {
      task.reject(err as SmtpError);
      throw new Interrupted(err as SmtpError, next);
    }
    this.messages++;
    if (reply.code >= 200 && reply.code < 300) task.resolve(reply);
    else task.reject(replyError('EMESSAGE', 'end of DATA', reply));
    return next && nextEnvelope ? { task: next, envelope: nextEnvelope.replies } : undefined;
  }

  /** Says QUIT and closes; never throws. */
  async quit(): Promise<void> {
    if (this.dead) return;
    try {
      await this.command('QUIT');
    } catch {
      /* closing anyway */
    }
    this.destroy(new SmtpError('ECLOSED', 'the connection was closed after QUIT'));
  }

  destroy(err: SmtpError = new SmtpError('ECLOSED', 'the connection was closed')): void {
    this.fail(err);
  }

  // -- the envelope and the message -----------------------------------------------------------

  private mailCommand(task: SmtpTask): string {
    checkAddress(task.from, 'the sender');
    checkAddress(task.to, 'the recipient');
    let params = '';
    if (this.extensions.has('SIZE')) params += ` SIZE=${task.wire.length}`;
    // An address with non-ASCII characters needs SMTPUTF8 (RFC 6531) on the whole transaction.
    if (this.extensions.has('SMTPUTF8') && /[^\x00-\x7f]/.test(task.from + task.to)) params += ' SMTPUTF8';
    return `MAIL FROM:<${task.from}>${params}`;
  }

  /** Queues the waiters for MAIL, RCPT and DATA and returns the commands to write. */
  private envelope(task: SmtpTask): { commands: string; replies: Envelope } {
    const commands = `${this.mailCommand(task)}\r\nRCPT TO:<${task.to}>\r\nDATA\r\n`;
    const ms = this.options.timeouts.commandMs;
    const replies = {
      mail: quiet(this.expect(ms, 'MAIL FROM')),
      rcpt: quiet(this.expect(ms, 'RCPT TO')),
      data: quiet(this.expect(ms, 'DATA')),
    };
    return { commands, replies };
  }

  private writeEnvelope(task: SmtpTask): Envelope {
    const { commands, replies } = this.envelope(task);
    this.write(commands);
    return replies;
  }

  /** The message and its final dot in one writev; `tail` (the next envelope) rides along. */
  private writeMessage(task: SmtpTask, tail?: string): void {
    const end = (endsWithCrlf(task.wire) ? '.\r\n' : '\r\n.\r\n') + (tail ?? '');
    const socket = this.socket;
    task.dotWritten = true;
    socket.cork();
    socket.write(task.wire);
    // Node also calls this, without an error, for writes dropped when the socket is destroyed.
    socket.write(end, (err) => {
      if (!err && !this.dead) task.dotFlushed = true;
    });
    socket.uncork();
  }

  // -- handshake ------------------------------------------------------------------------------

  private async ehlo(): Promise<void> {
    const name = ehloName(this.options.name);
    let reply = await this.command(`EHLO ${name}`);
    if (reply.code >= 500 && reply.code < 600) {
      // A server without ESMTP: HELO, and no extensions (so no pipelining).
      reply = await this.command(`HELO ${name}`);
      if (reply.code !== 250) throw this.fail(replyError('EPROTOCOL', 'HELO', reply));
      this.extensions = new Map();
      return;
    }
    if (reply.code !== 250) throw this.fail(replyError('EPROTOCOL', 'EHLO', reply));
    this.extensions = new Map(
      reply.lines.slice(1).map((line) => {
        const [keyword, ...rest] = line.trim().split(/\s+/);
        return [keyword.toUpperCase(), rest.join(' ')] as const;
      }),
    );
  }

  private async login(user: string, pass: string): Promise<void> {
    const offered = (this.extensions.get('AUTH') ?? '').toUpperCase().split(/\s+/);
    const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
    let reply: SmtpReply;
    if (offered.includes('PLAIN')) {
      reply = await this.command(`AUTH PLAIN ${b64(`\u0000${user}\u0000${pass}`)}`, 'AUTH PLAIN');
    } else if (offered.includes('LOGIN')) {
      reply = await this.command('AUTH LOGIN');
      if (reply.code === 334) reply = await this.command(b64(user), 'AUTH LOGIN user name');
      if (reply.code === 334) reply = await this.command(b64(pass), 'AUTH LOGIN password');
    } else {
      throw this.fail(
        new SmtpError('EAUTH', `SMTP_URL has a user name, but the server offers no AUTH PLAIN or LOGIN (it offers: ${offered.join(' ') || 'none'})`),
      );
    }
    if (reply.code !== 235) throw this.fail(replyError('EAUTH', 'AUTH', reply));
  }

  private connect(): Promise<void> {
    const o = this.options;
    return new Promise<void>((resolve, reject) => {
      const done = (err?: SmtpError) => {
        this.clearTimer();
        if (err) reject(this.fail(err));
        else resolve();
      };
      this.setTimer(o.timeouts.connectionMs, () =>
        done(new SmtpError('ECONNECTION', `could not connect to ${o.host}:${o.port} within ${o.timeouts.connectionMs} ms`)),
      );
      // TCP_NODELAY: Nagle would hold the short final write of each message for the server's
      // delayed ACK (40 ms). For smtps:// TLS runs over this same TCP socket.
      const tcp = netConnect({ host: o.host, port: o.port, noDelay: true }, o.secure ? undefined : () => done());
      tcp.once('error', (err: Error) => done(this.socketError(err)));
      const socket = o.secure ? tlsConnect({ socket: tcp, ...this.tlsOptions() }, () => done()) : tcp;
      if (o.secure) tcp.on('error', noop);
      this.attach(socket);
      socket.once('error', (err: Error) => done(this.socketError(err)));
    });
  }

  private tlsOptions() {
    const o = this.options;
    // SNI takes a name, never an address; certificate checks still compare the address.
    const servername = o.tls.servername ?? (isIP(o.host) ? undefined : o.host);
    return { servername, rejectUnauthorized: o.tls.rejectUnauthorized, ca: o.ca, minVersion: 'TLSv1.2' as const };
  }

  /** STARTTLS: the same TCP connection, now through TLS, with the certificate checked. */
  private upgrade(): Promise<void> {
    const o = this.options;
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('error');
    plain.removeAllListeners('close');
    // The TLS socket now reports what happens to the connection; an error on the plain one must
    // not go unhandled (it would end the process).
    plain.on('error', noop);
    return new Promise<void>((resolve, reject) => {
      const done = (err?: SmtpError) => {
        this.clearTimer();
        if (err) reject(this.fail(err));
        else resolve();
      };
      this.setTimer(o.timeouts.connectionMs, () =>
        done(new SmtpError('ETLS', `TLS handshake with ${o.host} did not finish within ${o.timeouts.connectionMs} ms`)),
      );
      const secure = tlsConnect({ socket: plain, ...this.tlsOptions() }, () => done());
      this.attach(secure);
      secure.once('error', (err: Error) => done(this.socketError(err)));
    });
  }

  private attach(socket: Socket | TLSSocket): void {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.reader.feed(chunk));
    socket.on('error', (err: Error) => this.fail(this.socketError(err)));
    socket.on('close', () => this.fail(new SmtpError('ECONNECTION', `the server closed the connection`)));
  }

  private socketError(err: Error & { code?: string }): SmtpError {
    const tls = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME|ALTNAME/i.test(`${err.code ?? ''} ${err.message}`);
    const code: SmtpErrorCode = tls ? 'ETLS' : 'ECONNECTION';
    return new SmtpError(code, `${err.code ? `${err.code}: ` : ''}${err.message}`, { cause: err });
  }

  // -- replies and deadlines ------------------------------------------------------------------

  private command(line: string, what = line.split(' ')[0]): Promise<SmtpReply> {
    const reply = this.expect(this.options.timeouts.commandMs, what);
    this.write(`${line}\r\n`);
    return reply;
  }

  private write(data: string | Buffer): void {
    if (!this.dead) this.socket.write(data);
  }

  private expect(ms: number, what: string, afterDot?: SmtpTask): Promise<SmtpReply> {
    if (this.dead) return Promise.reject(this.lost(this.dead, afterDot));
    return new Promise<SmtpReply>((resolve, reject) => {
      this.waiters.push({ resolve, reject, ms, what, afterDot });
      if (this.waiters.length === 1) this.armHead();
    });
  }

  private reply(reply: SmtpReply): void {
    const waiter = this.waiters.shift();
    if (!waiter) {
      // Unasked: typically "421 closing" before the server hangs up.
      this.fail(replyError(reply.code === 421 ? 'ECONNECTION' : 'EPROTOCOL', 'unexpected reply', reply));
      return;
    }
    this.armHead();
    waiter.resolve(reply);
  }

  /** The deadline of the reply now awaited; one timer per connection, refreshed, not re-created. */
  private armHead(): void {
    const head = this.waiters[0];
    if (!head) return this.clearTimer();
    this.setTimer(head.ms, () => {
      const late = head.afterDot
        ? new SmtpError('EAFTERDATA', `no reply to the final dot within ${head.ms} ms; the server may have accepted the message`)
        : new SmtpError('ETIMEDOUT', `no reply to ${head.what} within ${head.ms} ms`);
      this.fail(late);
    });
  }

  private setTimer(ms: number, fire: () => void): void {
    this.onTimer = fire;
    if (this.timer && this.timerMs === ms) this.timer.refresh();
    else {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.onTimer(), ms);
      this.timerMs = ms;
    }
  }

  private onTimer: () => void = noop;

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * What a waiter learns when the connection is gone: EAFTERDATA once its final dot had left this
   * process. The dot is the last byte written, so it had left if its write completed, or if
   * nothing was still waiting in the socket's buffer when the connection failed.
   */
  private lost(err: SmtpError, afterDot?: SmtpTask): SmtpError {
    if (!afterDot) return err;
    const sent = afterDot.dotFlushed === true || (afterDot.dotWritten === true && this.unsentBytes === 0);
    if (sent && err.code !== 'EAFTERDATA')
      return new SmtpError('EAFTERDATA', `${err.message}, after the final dot was sent; the server may have accepted the message`, { cause: err });
    if (!sent && err.code === 'EAFTERDATA')
      return new SmtpError('ECONNECTION', `${err.message.replace(/; the server may.*$/, '')} (the final dot had not been sent)`);
    return err;
  }

  /** Bytes still in the socket's buffer (not yet given to the operating system) when it failed. */
  private unsentBytes = 0;

  /** Ends the connection once; every reply still awaited fails with the reason. Returns the error. */
  private fail(err: SmtpError): SmtpError {
    if (this.dead) return err;
    this.dead = err;
    this.clearTimer();
    this.unsentBytes = this.socket?.writableLength ?? 0;
    this.socket?.destroy();
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.lost(err, waiter.afterDot));
    this.onClose(err);
    return err;
  }
}
