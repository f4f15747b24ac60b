import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: Buffer;
  /** When the server accepted it (Date.now()). */
  at: number;
}

export interface SmtpBehaviour {
  /** Reply to RCPT TO for this address, e.g. "550 5.1.1 mailbox unavailable". */
  rejectRecipient?: (address: string) => { code: number; message: string } | undefined;
  /** Wait this long before answering the end of DATA (a busy relay). */
  dataDelayMs?: number;
  /** Holds a message's final "250 OK" until the promise settles (a send in flight, for as long as a test needs). */
  holdData?: (recipients: string[]) => Promise<void> | undefined;
}

/** A real SMTP server (the smtp-server package) that keeps what it receives, for tests. */
export class TestSmtpServer {
  readonly received: ReceivedMail[] = [];
  /** Every RCPT TO address offered, accepted or not. */
  readonly rcptAttempts: string[] = [];
  behaviour: SmtpBehaviour = {};
  /** Messages whose DATA has arrived and is being held by `behaviour.holdData`. */
  held = 0;
  private server?: SMTPServer;
  port = 0;

  /** `keepBodies: false` keeps envelopes only (tens of thousands of 40 KB messages). */
  constructor(private readonly options: { keepBodies?: boolean } = {}) {}

  async start(port = 0): Promise<this> {
    const options: SMTPServerOptions = {
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      size: 10 * 1024 * 1024,
      onRcptTo: (address, _session, callback) => {
        this.rcptAttempts.push(address.address);
        const reject = this.behaviour.rejectRecipient?.(address.address);
        if (reject) {
          const err = new Error(reject.message) as Error & { responseCode: number };
          err.responseCode = reject.code;
          return callback(err);
        }
        callback();
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on(
          'end',
          () =>
            void (async () => {
              const to = session.envelope.rcptTo.map((r) => r.address);
              const hold = this.behaviour.holdData?.(to);
              if (hold) {
                this.held++;
                await hold.catch(() => undefined);
                this.held--;
              }
              if (this.behaviour.dataDelayMs) await new Promise((r) => setTimeout(r, this.behaviour.dataDelayMs));
              this.received.push({
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                to,
                raw: this.options.keepBodies === false ? Buffer.alloc(0) : Buffer.concat(chunks),
                at: Date.now(),
              });
              callback();
            })(),
        );
      },
    };
    this.server = new SMTPServer(options);
    this.server.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      this.server!.listen(port, '127.0.0.1', () => resolve());
      this.server!.server.once('error', reject);
    });
    this.port = (this.server.server.address() as { port: number }).port;
    return this;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** Stops listening (connections are refused) but keeps what was received. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Starts again on the same port. */
  async restart(): Promise<void> {
    await this.start(this.port);
  }

  recipients(): string[] {
    return this.received.flatMap((m) => m.to);
  }

  parse(mail: ReceivedMail): Promise<ParsedMail> {
    return simpleParser(mail.raw);
  }
}
