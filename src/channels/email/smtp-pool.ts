import { Interrupted, SmtpConnection, type SmtpConnectionOptions, type SmtpTask } from './smtp-connection.js';
import { SmtpError } from './smtp-errors.js';
import { dotStuff } from './dot-stuff.js';
import type { MailTransport, OutgoingMail } from './mail-transport.js';

// Tocsin's SMTP sender: a pool of at most `maxConnections` SmtpConnections, each sending one
// message after another (pipelined when the server allows), closed and replaced after
// `maxMessages`. Messages wait in one queue in the order they were given; a connection that
// finishes a message takes the next. Nothing is sent twice by the pool itself: the only message it
// gives to another connection is one whose data was never written (a lost idle connection).

export interface SmtpPoolOptions extends SmtpConnectionOptions {
  maxConnections: number;
  maxMessages: number;
  /** An idle connection is closed after this long (servers drop idle clients after a few minutes). */
  idleMs?: number;
}

interface QueuedTask extends SmtpTask {
  /** Already given to a second connection once: the next loss is reported, not retried. */
  requeued: boolean;
  /** Rejects the caller's promise, with no second try. */
  fail(err: SmtpError): void;
}

export class SmtpPool implements MailTransport {
  private readonly queue: QueuedTask[] = [];
  private readonly connections = new Set<SmtpConnection>();
  private readonly idle: SmtpConnection[] = [];
  private readonly idleTimers = new Map<SmtpConnection, NodeJS.Timeout>();
  private opening = 0;
  private closed = false;

  constructor(private readonly options: SmtpPoolOptions) {}

  send(message: OutgoingMail): Promise<{ response: string }> {
    if (this.closed) return Promise.reject(new SmtpError('ECLOSED', 'the SMTP sender is closed'));
    let wire: Buffer;
    try {
      for (const [role, address] of [
        ['sender', message.from],
        ['recipient', message.to],
      ]) {
        if (!address || /[\x00-\x1f\x7f<>\s]/.test(address)) throw new SmtpError('EADDRESS', `the ${role} address is not one SMTP can carry`);
      }
      wire = message.dotStuffed ? (typeof message.raw === 'string' ? Buffer.from(message.raw, 'utf8') : message.raw) : dotStuff(message.raw);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise((resolve, reject) => {
      const task: QueuedTask = {
        from: message.from,
        to: message.to,
        wire,
        requeued: false,
        fail: reject,
        resolve: (reply) => resolve({ response: reply.text }),
        reject: (err) => {
          // Lost before its data went out, on a connection that was already open: nothing was
          // accepted, so another connection may take it (once) instead of failing the recipient.
          if (err.code === 'ECONNECTION' && !task.requeued && !this.closed) {
            task.requeued = true;
            task.dotWritten = task.dotFlushed = false;
            this.queue.unshift(task);
            this.pump();
          } else reject(err);
        },
      };
      this.queue.push(task);
      this.pump();
    });
  }

  /** Opens a connection, logs in and says QUIT: checks SMTP_URL and the credentials. */
  async verify(): Promise<void> {
    const connection = new SmtpConnection(this.options);
    await connection.open();
    await connection.quit();
  }

  close(): void {
    this.closed = true;
    for (const task of this.queue.splice(0)) task.fail(new SmtpError('ECLOSED', 'the SMTP sender was closed before this message was sent'));
    for (const timer of this.idleTimers.values()) clearTimeout(timer);
    this.idleTimers.clear();
    for (const connection of this.idle.splice(0)) void connection.quit();
    for (const connection of this.connections) connection.destroy(new SmtpError('ECLOSED', 'the SMTP sender was closed'));
    this.connections.clear();
  }

  /** Gives waiting messages to idle connections, and opens connections while there are more. */
  private pump(): void {
    while (this.queue.length > 0 && !this.closed) {
      const connection = this.idle.pop();
      if (connection) {
        clearTimeout(this.idleTimers.get(connection));
        this.idleTimers.delete(connection);
        void this.serve(connection);
        continue;
      }
      if (this.connections.size + this.opening >= this.options.maxConnections || this.opening >= this.queue.length) return;
      void this.open();
    }
  }

  private async open(): Promise<void> {
    this.opening++;
    const connection = new SmtpConnection(this.options);
    try {
      await connection.open();
    } catch (err) {
      this.opening--;
      // No connection can be made: every waiting message fails now (and is retried by its job
      // later), rather than each waiting for its own attempt. With other connections alive, they
      // carry on with the queue.
      if (this.connections.size === 0) for (const task of this.queue.splice(0)) task.fail(asSmtpError(err, 'ECONNECTION'));
      return;
    }
    this.opening--;
    if (this.closed) return void connection.quit();
    this.connections.add(connection);
    connection.onClose = () => this.forget(connection);
    void this.serve(connection);
  }

  /** Sends queued messages on this connection until the queue is empty or the connection is done. */
  private async serve(connection: SmtpConnection): Promise<void> {
    const max = this.options.maxMessages;
    const more = () => (connection.messages + 1 < max ? this.queue.shift() : undefined);
    let task: QueuedTask | undefined = this.queue.shift();
    let chained: Awaited<ReturnType<SmtpConnection['transact']>>;
    while (task && !connection.closed) {
      try {
        chained = await connection.transact(task, chained?.envelope, more);
      } catch (err) {
        if (err instanceof Interrupted && err.requeue) {
          // Its MAIL/RCPT/DATA were written after the previous message's dot, its data never was.
          this.queue.unshift(err.requeue as QueuedTask);
        }
        if (!(err instanceof Interrupted)) task.reject(asSmtpError(err, 'EPROTOCOL'));
        this.forget(connection);
        this.pump();
        return;
      }
      if (connection.messages >= max) {
        // `more` never chains past maxMessages; should one be chained anyway, its data was not sent.
        if (chained) this.queue.unshift(chained.task as QueuedTask);
        this.forget(connection);
        await connection.quit();
        this.pump();
        return;
      }
      task = (chained?.task as QueuedTask | undefined) ?? this.queue.shift();
    }
    if (connection.closed) {
      if (task) this.queue.unshift(task as QueuedTask);
      this.forget(connection);
      this.pump();
      return;
    }
    this.idle.push(connection);
    const idleMs = this.options.idleMs ?? 30_000;
    // Unref'd: an idle connection must not keep a finished process alive.
    this.idleTimers.set(
      connection,
      setTimeout(() => {
        this.idleTimers.delete(connection);
        this.forget(connection);
        void connection.quit();
      }, idleMs).unref(),
    );
  }

  private forget(connection: SmtpConnection): void {
    this.connections.delete(connection);
    const i = this.idle.indexOf(connection);
    if (i !== -1) this.idle.splice(i, 1);
    const timer = this.idleTimers.get(connection);
    if (timer) clearTimeout(timer);
    this.idleTimers.delete(connection);
  }
}

function asSmtpError(err: unknown, code: 'ECONNECTION' | 'EPROTOCOL'): SmtpError {
  return err instanceof SmtpError ? err : new SmtpError(code, (err as Error)?.message ?? String(err), { cause: err });
}
