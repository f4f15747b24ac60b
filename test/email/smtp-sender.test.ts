import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { simpleParser } from 'mailparser';
import { SmtpPool } from '../../src/channels/email/smtp-pool.js';
import { parseSmtpUrl } from '../../src/channels/email/smtp-url.js';
import { classifySmtpError } from '../../src/channels/email/transport.js';
import type { SmtpError } from '../../src/channels/email/smtp-errors.js';
import { MimeTemplate } from '../../src/channels/email/mime.js';
import { selfSignedCert } from '../helpers/tls-cert.js';

// Tocsin's SMTP sender against a real SMTP server (the smtp-server package): TLS both ways with
// the certificate checked, AUTH PLAIN and LOGIN, with and without PIPELINING, lost connections
// before and after the final dot, servers that stall, maxMessages, and reply classification.

interface Received {
  raw: Buffer;
  to: string[];
  secure: boolean;
  user?: string;
  authMethod?: string;
}

class Harness {
  server!: SMTPServer;
  port = 0;
  received: Received[] = [];
  connections = 0;
  open = 0;
  maxOpen = 0;
  sockets = new Set<Socket>();
  authMethods: string[] = [];

  async start(options: Partial<SMTPServerOptions>): Promise<this> {
    this.server = new SMTPServer({
      logger: false,
      disabledCommands: ['AUTH', 'STARTTLS'],
      authOptional: true,
      size: 64 * 1024 * 1024,
      onConnect: (_session, callback) => {
        this.connections++;
        this.open++;
        this.maxOpen = Math.max(this.maxOpen, this.open);
        callback();
      },
      onClose: () => {
        this.open--;
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          this.received.push({
            raw: Buffer.concat(chunks),
            to: session.envelope.rcptTo.map((r) => r.address),
            secure: session.secure,
            user: session.user as string | undefined,
          });
          callback();
        });
      },
      ...options,
    });
    this.server.on('error', () => {});
    this.server.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.server.address() as { port: number }).port;
    return this;
  }

  dropAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async stop(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const TIMEOUTS = { connectionMs: 5000, greetingMs: 5000, commandMs: 5000, dataMs: 5000 };

function sender(url: string, options: Partial<ConstructorParameters<typeof SmtpPool>[0]> = {}): SmtpPool {
  return new SmtpPool({ ...parseSmtpUrl(url), maxConnections: 2, maxMessages: 100, timeouts: TIMEOUTS, ...options });
}

const message = (to: string, body = 'Hello.\r\n') => `From: alerts@example.org\r\nTo: ${to}\r\nSubject: test\r\nMessage-ID: <${to}@example.org>\r\n\r\n${body}`;

async function failure(p: Promise<unknown>): Promise<SmtpError> {
  try {
    await p;
  } catch (err) {
    return err as SmtpError;
  }
  throw new Error('expected the send to fail');
}

const harnesses: Harness[] = [];
const pools: SmtpPool[] = [];
const servers: Server[] = [];
async function smtp(options: Partial<SMTPServerOptions> = {}): Promise<Harness> {
  const h = await new Harness().start(options);
  harnesses.push(h);
  return h;
}
function pool(url: string, options: Partial<ConstructorParameters<typeof SmtpPool>[0]> = {}): SmtpPool {
  const p = sender(url, options);
  pools.push(p);
  return p;
}

afterEach(async () => {
  for (const p of pools.splice(0)) p.close();
  await Promise.all(harnesses.splice(0).map((h) => h.stop()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

describe('TLS and AUTH', () => {
  let tls: { key: Buffer; cert: Buffer };
  const users = { user: 'tocsin', pass: 'p@ss:word/1' };
  const onAuth: SMTPServerOptions['onAuth'] = (auth, session, callback) => {
    if (auth.username === users.user && auth.password === users.pass) {
      harnesses.at(-1)?.authMethods.push(auth.method);
      return callback(null, { user: auth.username });
    }
    return callback(new Error('Invalid username or password'));
  };
  beforeAll(() => {
    tls = selfSignedCert();
  });
  const creds = `${encodeURIComponent(users.user)}:${encodeURIComponent(users.pass)}`;

  it('upgrades with STARTTLS, checks the certificate against the CA given, and logs in with AUTH PLAIN', async () => {
    const h = await smtp({ key: tls.key, cert: tls.cert, disabledCommands: [], authOptional: false, onAuth });
    const p = pool(`smtp://${creds}@127.0.0.1:${h.port}`, { ca: tls.cert });
    const info = await p.send({ from: 'alerts@example.org', to: 'a@example.net', raw: message('a@example.net') });
    expect(info.response).toMatch(/^250 /);
    expect(h.received).toHaveLength(1);
    expect(h.received[0].secure).toBe(true);
    expect(h.received[0].user).toBe('tocsin');
    expect(h.authMethods).toEqual(['PLAIN']);
  });

  it('speaks TLS from the first byte with smtps:// and logs in with AUTH LOGIN when that is all the server offers', async () => {
    const h = await smtp({ secure: true, key: tls.key, cert: tls.cert, disabledCommands: [], authMethods: ['LOGIN'], authOptional: false, onAuth });
    const p = pool(`smtps://${creds}@127.0.0.1:${h.port}`, { ca: tls.cert });
    await p.send({ from: 'alerts@example.org', to: 'b@example.net', raw: message('b@example.net') });
    expect(h.received[0].secure).toBe(true);
    expect(h.authMethods).toEqual(['LOGIN']);
  });

  it('refuses a certificate it cannot verify, unless SMTP_URL says ?tls.rejectUnauthorized=false', async () => {
    const h = await smtp({ key: tls.key, cert: tls.cert, disabledCommands: ['AUTH'] });
    const err = await failure(pool(`smtp://127.0.0.1:${h.port}`).send({ from: 'alerts@example.org', to: 'c@example.net', raw: message('c') }));
    expect(err.code).toBe('ETLS');
    expect(err.message).toMatch(/self.signed|certificate/i);
    expect(classifySmtpError(err).permanent).toBe(false);
    expect(h.received).toHaveLength(0);

    await pool(`smtp://127.0.0.1:${h.port}?tls.rejectUnauthorized=false`).send({ from: 'alerts@example.org', to: 'c@example.net', raw: message('c') });
    expect(h.received).toHaveLength(1);
    expect(h.received[0].secure).toBe(true);
  });

  it('reports wrong credentials as EAUTH with the server reply, sending nothing', async () => {
    const h = await smtp({ key: tls.key, cert: tls.cert, disabledCommands: [], authOptional: false, onAuth });
    const err = await failure(
      pool(`smtp://tocsin:wrong@127.0.0.1:${h.port}`, { ca: tls.cert }).send({ from: 'alerts@example.org', to: 'd@example.net', raw: message('d') }),
    );
    expect(err.code).toBe('EAUTH');
    expect(err.response).toMatch(/^535 /);
    // About the connection, not the recipient: transient, so fixing the password lets the send go on.
    expect(classifySmtpError(err).permanent).toBe(false);
    expect(h.received).toHaveLength(0);
  });

  it('refuses to go on without STARTTLS when SMTP_URL has ?requireTLS=true', async () => {
    const h = await smtp();
    const err = await failure(pool(`smtp://127.0.0.1:${h.port}?requireTLS=true`).send({ from: 'alerts@example.org', to: 'e@example.net', raw: message('e') }));
    expect(err.code).toBe('ETLS');
    expect(h.received).toHaveLength(0);
  });
});

/** A TCP proxy in front of the server that keeps every chunk the client wrote. */
async function recordingProxy(port: number): Promise<{ port: number; chunks: string[] }> {
  const chunks: string[] = [];
  const proxy = createServer((client) => {
    const server = connect(port, '127.0.0.1');
    client.on('data', (c: Buffer) => {
      chunks.push(c.toString('latin1'));
      server.write(c);
    });
    server.on('data', (c: Buffer) => client.write(c));
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
    client.on('error', () => {});
    server.on('error', () => {});
  });
  servers.push(proxy);
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return { port: (proxy.address() as { port: number }).port, chunks };
}

describe('PIPELINING', () => {
  const bodies = (n: number) => Array.from({ length: n }, (_, i) => `r${i}@example.net`);

  it('writes MAIL, RCPT and DATA together when the server offers PIPELINING, and the next envelope with the final dot', async () => {
    const h = await smtp();
    const proxy = await recordingProxy(h.port);
    const p = pool(`smtp://127.0.0.1:${proxy.port}`, { maxConnections: 1 });
    await Promise.all(bodies(5).map((to) => p.send({ from: 'alerts@example.org', to, raw: message(to) })));
    expect(h.received.map((m) => m.to[0]).sort()).toEqual(bodies(5).sort());
    expect(proxy.chunks.some((c) => /^MAIL FROM:<alerts@example.org>.*\r\nRCPT TO:<[^>]+>\r\nDATA\r\n$/s.test(c))).toBe(true);
    // The next message's envelope rides with this message's final dot: one write per message.
    expect(proxy.chunks.some((c) => /\r\n\.\r\nMAIL FROM:.*\r\nRCPT TO:.*\r\nDATA\r\n$/s.test(c))).toBe(true);
  });

  it('sends one command at a time to a server without PIPELINING, and every message arrives', async () => {
    const h = await smtp({ hidePIPELINING: true });
    const proxy = await recordingProxy(h.port);
    const p = pool(`smtp://127.0.0.1:${proxy.port}`, { maxConnections: 1 });
    await Promise.all(bodies(5).map((to) => p.send({ from: 'alerts@example.org', to, raw: message(to) })));
    expect(h.received.map((m) => m.to[0]).sort()).toEqual(bodies(5).sort());
    const commandChunks = proxy.chunks.filter((c) => /^(MAIL|RCPT|DATA|RSET|EHLO)/.test(c));
    expect(commandChunks.length).toBeGreaterThan(0);
    // A reply is awaited before each command, so no chunk from the client holds two commands.
    for (const c of proxy.chunks) expect(c.match(/^(MAIL FROM|RCPT TO|DATA)\b/gm)?.length ?? 0).toBeLessThanOrEqual(1);
  });
});

describe('dot-stuffing', () => {
  const tricky = '.starts with a dot\r\n..two dots\r\n.\r\nmiddle . dot\r\n.\r\n\r\n.last\r\n';

  it('delivers a raw message whose lines start with "." byte for byte, including bare LF turned into CRLF', async () => {
    const h = await smtp();
    const raw = message('f@example.net', tricky) + 'bare\nline\n';
    await pool(`smtp://127.0.0.1:${h.port}`).send({ from: 'alerts@example.org', to: 'f@example.net', raw });
    expect(h.received[0].raw.toString('latin1')).toBe(raw.replace(/\r?\n/g, '\r\n'));
    const parsed = await simpleParser(h.received[0].raw);
    expect(parsed.text).toContain('.starts with a dot\n..two dots\n.\nmiddle . dot');
  });

  it('delivers a CRLF message starting and ending with dotted lines byte for byte', async () => {
    const h = await smtp();
    const raw = message('f2@example.net', tricky);
    const dotted = message('f2@example.net', `${tricky}.\r\n..\r\n`);
    await pool(`smtp://127.0.0.1:${h.port}`).send({ from: 'alerts@example.org', to: 'f2@example.net', raw });
    await pool(`smtp://127.0.0.1:${h.port}`).send({ from: 'alerts@example.org', to: 'f2@example.net', raw: Buffer.from(dotted) });
    expect(h.received[0].raw.toString('latin1')).toBe(raw);
    expect(h.received[1].raw.toString('latin1')).toBe(dotted);
  });

  it("sends MimeTemplate's pre-stuffed message as it is, and the server gets exactly the unstuffed message", async () => {
    const h = await smtp();
    const text = ['Dear reader,', '.hidden line', '..', '.', 'Unsubscribe: %%TOCSIN_UNSUBSCRIBE_URL%%', '.after'].join('\n');
    const html = `<p>hi</p>\n.dot in html\n<a href="%%TOCSIN_UNSUBSCRIBE_URL%%">unsubscribe</a>\n.`;
    const mime = new MimeTemplate({ subject: 'Dots', html, text, language: 'en' }, { from: 'Alerts <alerts@example.org>', listId: '<alerts.example.org>' });
    const personal = { to: 'g@example.net', messageId: '<m1@example.org>', unsubscribeUrl: 'https://x.example/u/.tok', preferencesUrl: 'https://x.example/p' };
    const wire = mime.message(personal);
    expect(wire.dotStuffed).toBe(true);
    await pool(`smtp://127.0.0.1:${h.port}`).send({ from: 'alerts@example.org', to: 'g@example.net', ...wire });
    expect(h.received[0].raw.equals(mime.build(personal))).toBe(true);
    const parsed = await simpleParser(h.received[0].raw);
    expect(parsed.text).toContain('.hidden line\n..\n.\nUnsubscribe: https://x.example/u/.tok\n.after');
  });
});

describe('lost connections', () => {
  it('a connection lost after the final dot is EAFTERDATA: the server may have the message', async () => {
    const h = await smtp({
      onData(stream, session, callback) {
        void callback;
        stream.on('data', () => {});
        // The whole message, final dot included, has arrived: hang up without a reply.
        stream.on('end', () => h.dropAll());
      },
    });
    const err = await failure(pool(`smtp://127.0.0.1:${h.port}`).send({ from: 'alerts@example.org', to: 'h@example.net', raw: message('h') }));
    expect(err.code).toBe('EAFTERDATA');
    expect(err.afterData).toBe(true);
    expect(classifySmtpError(err)).toMatchObject({ permanent: false, afterData: true });
  });

  it('a connection lost before DATA is ECONNECTION (safe to retry), tried once more on a new connection', async () => {
    const h = await smtp({
      onRcptTo(_address, _session, callback) {
        void callback;
        h.dropAll();
      },
    });
    const err = await failure(pool(`smtp://127.0.0.1:${h.port}`).send({ from: 'alerts@example.org', to: 'i@example.net', raw: message('i') }));
    expect(err.code).toBe('ECONNECTION');
    expect(classifySmtpError(err)).toMatchObject({ permanent: false, afterData: false });
    expect(h.connections).toBe(2);
    expect(h.received).toHaveLength(0);
  });

  it('a connection lost while the message is still being written (before its final dot left) is ECONNECTION', async () => {
    // A scripted server: accepts the envelope, then hangs up at the first bytes of the message,
    // while most of an 80 MB message is still in this process: Linux's socket buffers hold at most
    // tcp_wmem + tcp_rmem (4 + 32 MB by default) between the two ends.
    let drops = 0;
    const server = createServer((socket) => {
      socket.on('error', () => {});
      socket.write('220 scripted.example ESMTP\r\n');
      let inData = false;
      socket.on('data', (chunk: Buffer) => {
        if (inData) {
          drops++;
          socket.destroy();
          return;
        }
        const text = chunk.toString('latin1');
        if (text.startsWith('EHLO')) socket.write('250-scripted.example\r\n250 PIPELINING\r\n');
        else if (text.startsWith('MAIL FROM')) {
          socket.write('250 ok\r\n250 ok\r\n354 go ahead\r\n');
          inData = true;
        }
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const big = message('j@example.net', `${'x'.repeat(998)}\r\n`.repeat(80 * 1024));
    const err = await failure(pool(`smtp://127.0.0.1:${port}`).send({ from: 'alerts@example.org', to: 'j@example.net', raw: big }));
    expect(err.code).toBe('ECONNECTION');
    expect(classifySmtpError(err).afterData).toBe(false);
    // Lost before its data was sent: tried once more on a new connection, then reported.
    expect(drops).toBe(2);
  });

  it('an idle connection the server dropped is replaced without failing the next message', async () => {
    const h = await smtp();
    const p = pool(`smtp://127.0.0.1:${h.port}`, { maxConnections: 1 });
    await p.send({ from: 'alerts@example.org', to: 'k1@example.net', raw: message('k1') });
    h.dropAll();
    await p.send({ from: 'alerts@example.org', to: 'k2@example.net', raw: message('k2') });
    expect(h.received.map((m) => m.to[0])).toEqual(['k1@example.net', 'k2@example.net']);
    expect(h.connections).toBe(2);
  });

  it('fails every waiting message at once when no connection can be made (server down), as transient', async () => {
    const h = await smtp();
    const port = h.port;
    await h.stop();
    harnesses.splice(harnesses.indexOf(h), 1);
    const p = pool(`smtp://127.0.0.1:${port}`);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => p.send({ from: 'alerts@example.org', to: `l${i}@example.net`, raw: message('l') })),
    );
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    const err = (results[0] as PromiseRejectedResult).reason as SmtpError;
    expect(err.code).toBe('ECONNECTION');
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect(classifySmtpError(err).permanent).toBe(false);
  });
});

describe('deadlines', () => {
  const short = { connectionMs: 2000, greetingMs: 300, commandMs: 300, dataMs: 300 };

  async function stallingServer(greeting?: string): Promise<number> {
    const server = createServer((socket) => {
      socket.on('error', () => {});
      if (greeting) socket.write(greeting);
      // Reads (so it sees the client hang up) but never answers.
      socket.resume();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  }

  it('gives up on a server that never greets', async () => {
    const port = await stallingServer();
    const err = await failure(
      pool(`smtp://127.0.0.1:${port}`, { timeouts: short }).send({ from: 'alerts@example.org', to: 'm@example.net', raw: message('m') }),
    );
    expect(err.code).toBe('ETIMEDOUT');
    expect(err.message).toMatch(/greeting within 300 ms/);
  });

  it('gives up on a server that greets and then never answers EHLO', async () => {
    const port = await stallingServer('220 stalling.example ESMTP\r\n');
    const err = await failure(
      pool(`smtp://127.0.0.1:${port}`, { timeouts: short }).send({ from: 'alerts@example.org', to: 'n@example.net', raw: message('n') }),
    );
    expect(err.code).toBe('ETIMEDOUT');
    expect(err.message).toMatch(/EHLO within 300 ms/);
  });

  it('a server that takes the message and never answers the final dot: EAFTERDATA after dataMs', async () => {
    const h = await smtp({
      onData(stream) {
        stream.on('data', () => {});
        // never calls back
      },
    });
    const err = await failure(
      pool(`smtp://127.0.0.1:${h.port}`, { timeouts: short }).send({ from: 'alerts@example.org', to: 'o@example.net', raw: message('o') }),
    );
    expect(err.code).toBe('EAFTERDATA');
    expect(err.message).toMatch(/no reply to the final dot within 300 ms/);
    expect(classifySmtpError(err).afterData).toBe(true);
  });
});

describe('replies, maxMessages and the pool', () => {
  it('classifies 4xx as transient and 5xx as permanent, keeping the reply, and the connection goes on', async () => {
    const h = await smtp({
      onRcptTo(address, _session, callback) {
        const reply = (code: number, text: string) => callback(Object.assign(new Error(text), { responseCode: code }));
        if (address.address === 'busy@example.net') return reply(450, '4.2.1 mailbox busy, try later');
        if (address.address === 'gone@example.net') return reply(550, '5.1.1 mailbox unavailable');
        callback();
      },
    });
    const p = pool(`smtp://127.0.0.1:${h.port}`, { maxConnections: 1 });
    const busy = await failure(p.send({ from: 'alerts@example.org', to: 'busy@example.net', raw: message('busy') }));
    const gone = await failure(p.send({ from: 'alerts@example.org', to: 'gone@example.net', raw: message('gone') }));
    await p.send({ from: 'alerts@example.org', to: 'fine@example.net', raw: message('fine') });
    expect(busy.responseCode).toBe(450);
    expect(classifySmtpError(busy)).toEqual({ permanent: false, reason: '450 4.2.1 mailbox busy, try later', afterData: false });
    expect(gone.responseCode).toBe(550);
    expect(classifySmtpError(gone)).toEqual({ permanent: true, reason: '550 5.1.1 mailbox unavailable', afterData: false });
    expect(h.received.map((m) => m.to[0])).toEqual(['fine@example.net']);
    expect(h.connections).toBe(1);
  });

  it('classifies a 5xx reply to the final dot as permanent', async () => {
    const h = await smtp({
      onData(stream, _session, callback) {
        stream.on('data', () => {});
        stream.on('end', () => callback(Object.assign(new Error('5.7.1 message refused by policy'), { responseCode: 554 })));
      },
    });
    const err = await failure(pool(`smtp://127.0.0.1:${h.port}`).send({ from: 'alerts@example.org', to: 'p@example.net', raw: message('p') }));
    expect(err.code).toBe('EMESSAGE');
    expect(classifySmtpError(err)).toMatchObject({ permanent: true, reason: '554 5.7.1 message refused by policy' });
  });

  it('refuses an address with a line break without sending anything (permanent)', async () => {
    const h = await smtp();
    const err = await failure(
      pool(`smtp://127.0.0.1:${h.port}`).send({ from: 'alerts@example.org', to: 'x@example.net>\r\nRCPT TO:<y@example.net', raw: message('q') }),
    );
    expect(err.code).toBe('EADDRESS');
    expect(classifySmtpError(err).permanent).toBe(true);
    expect(h.connections).toBe(0);
  });

  it('closes a connection after maxMessages and opens a new one', async () => {
    const h = await smtp();
    const p = pool(`smtp://127.0.0.1:${h.port}`, { maxConnections: 1, maxMessages: 3 });
    const to = Array.from({ length: 10 }, (_, i) => `s${i}@example.net`);
    await Promise.all(to.map((t) => p.send({ from: 'alerts@example.org', to: t, raw: message(t) })));
    expect(h.received).toHaveLength(10);
    expect(h.connections).toBe(4);
  });

  it('never opens more than maxConnections, however many messages wait, and sends each once', async () => {
    const h = await smtp();
    const p = pool(`smtp://127.0.0.1:${h.port}`, { maxConnections: 3 });
    const to = Array.from({ length: 300 }, (_, i) => `t${i}@example.net`);
    await Promise.all(to.map((t) => p.send({ from: 'alerts@example.org', to: t, raw: message(t) })));
    expect(h.maxOpen).toBeLessThanOrEqual(3);
    expect(h.connections).toBeLessThanOrEqual(3);
    expect(h.received.map((m) => m.to[0]).sort()).toEqual(to.sort());
  });

  it('verify() logs in and says QUIT; close() fails what still waits', async () => {
    const h = await smtp();
    const p = pool(`smtp://127.0.0.1:${h.port}`, { maxConnections: 1 });
    await p.verify();
    const pending = p.send({ from: 'alerts@example.org', to: 'u@example.net', raw: message('u') });
    p.close();
    const err = await failure(pending);
    expect(err.code).toBe('ECLOSED');
  });
});
