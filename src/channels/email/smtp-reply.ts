// SMTP replies (RFC 5321 4.2): "250-first line" ... "250 last line", read from a byte stream that
// may cut anywhere, including inside a line or between the lines of one reply.

export interface SmtpReply {
  code: number;
  /** The text of each line, without the code. */
  lines: string[];
  /** The whole reply on one line, as logs and the ledger keep it: "550 5.1.1 mailbox unavailable". */
  text: string;
}

const LINE = /^(\d{3})([ -])?(.*)$/;

export class ReplyReader {
  private partial = '';
  private lines: string[] = [];

  constructor(
    private readonly onReply: (reply: SmtpReply) => void,
    private readonly onGarbage: (line: string) => void,
  ) {}

  feed(chunk: Buffer): void {
    // Replies are ASCII (or UTF-8 text after the code); latin1 never throws on stray bytes.
    let data = this.partial + chunk.toString('utf8');
    let nl = data.indexOf('\n');
    while (nl !== -1) {
      const line = data.slice(0, nl).replace(/\r$/, '');
      data = data.slice(nl + 1);
      this.line(line);
      nl = data.indexOf('\n');
    }
    // A server that never ends a line would make this grow without bound.
    if (data.length > 64 * 1024) {
      this.onGarbage(data.slice(0, 200));
      data = '';
    }
    this.partial = data;
  }

  private line(line: string): void {
    const m = LINE.exec(line);
    if (!m) return this.onGarbage(line);
    this.lines.push(m[3]);
    if (m[2] === '-') return;
    const code = Number(m[1]);
    const lines = this.lines;
    this.lines = [];
    this.onReply({ code, lines, text: `${code} ${lines.join(' ')}`.trim() });
  }
}
