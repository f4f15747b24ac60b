import { connect, type Socket } from 'node:net';

// The honest upper bound for any SMTP sender in Node: one pre-rendered, pre-stuffed message written
// straight to sockets, with PIPELINING (RFC 2920): MAIL, RCPT and DATA in one write, and the next
// message's MAIL/RCPT/DATA in the same write as this message's final dot. One write and one round
// trip per message; no timers, no classification, no pool. Only the envelope's RCPT changes.

export interface BlastResult {
  sent: number;
  errors: number;
  firstError: string;
}

/** Reads replies off a socket; `next(n)` resolves with the codes of the next n replies. */
function replyReader(socket: Socket) {
  let partial = '';
  const codes: number[] = [];
  let waiting: { n: number; resolve: (codes: number[]) => void; reject: (err: Error) => void } | undefined;
  const settle = () => {
    if (waiting && codes.length >= waiting.n) {
      const w = waiting;
      waiting = undefined;
      w.resolve(codes.splice(0, w.n));
    }
  };
  socket.on('data', (chunk: Buffer) => {
    partial += chunk.toString('latin1');
    let nl = partial.indexOf('\n');
    while (nl !== -1) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (line[3] !== '-') codes.push(Number(line.slice(0, 3)));
      nl = partial.indexOf('\n');
    }
    settle();
  });
  const fail = (err: Error) => {
    const w = waiting;
    waiting = undefined;
    w?.reject(err);
  };
  socket.on('error', fail);
  socket.on('close', () => fail(new Error('connection closed')));
  return {
    next(n: number): Promise<number[]> {
      return new Promise((resolve, reject) => {
        waiting = { n, resolve, reject };
        settle();
      });
    },
  };
}

/**
 * Sends `count` copies of `wire` (CRLF, dot-stuffed, ending in CRLF) over `connections` sockets,
 * recipient `recipient(i)` for the i-th. Messages are handed out one at a time across connections.
 */
export async function rawBlast(options: {
  host: string;
  port: number;
  connections: number;
  count: number;
  from: string;
  recipient: (i: number) => string;
  wire: Buffer;
}): Promise<BlastResult> {
  let next = 0;
  let errors = 0;
  let sent = 0;
  let firstError = '';
  const envelope = (i: number) => `MAIL FROM:<${options.from}>\r\nRCPT TO:<${options.recipient(i)}>\r\nDATA\r\n`;
  const end = Buffer.from('.\r\n');

  const one = async () => {
    const socket = connect({ host: options.host, port: options.port, noDelay: true });
    const replies = replyReader(socket);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    try {
      await replies.next(1); // greeting
      socket.write('EHLO blast.example\r\n');
      await replies.next(1);
      let i = next++;
      if (i >= options.count) return;
      socket.write(envelope(i));
      for (;;) {
        const [mail, rcpt, data] = await replies.next(3);
        if (mail !== 250 || rcpt !== 250 || data !== 354) throw new Error(`envelope refused: ${mail} ${rcpt} ${data}`);
        const j = next < options.count ? next++ : -1;
        socket.cork();
        socket.write(options.wire);
        socket.write(end);
        if (j !== -1) socket.write(envelope(j));
        socket.uncork();
        const [final] = await replies.next(1);
        if (final === 250) sent++;
        else {
          errors++;
          firstError ||= `final dot: ${final}`;
        }
        if (j === -1) break;
        i = j;
      }
      socket.write('QUIT\r\n');
      await replies.next(1).catch(() => undefined);
    } catch (err) {
      errors++;
      firstError ||= (err as Error).message;
    } finally {
      socket.destroy();
    }
  };
  await Promise.all(Array.from({ length: options.connections }, one));
  return { sent, errors, firstError };
}
