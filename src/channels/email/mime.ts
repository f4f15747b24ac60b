import { createRequire } from 'node:module';
import { createHash, type Hash } from 'node:crypto';
import type { RenderedEmail } from '../../render/email.js';
import { PERSONAL } from '../../render/email.js';
import { dotStuff, dotUnstuff } from './dot-stuff.js';
import { relaxedLines } from './dkim-canon.js';

// A MIME message built once per alert; per recipient only the lines that hold personal links and
// the personal headers are encoded again. This is what lets one worker send at close to the SMTP
// server's own limit (see bench/). nodemailer's encoders do the encoding.
const require = createRequire(import.meta.url);
const qp = require('nodemailer/lib/qp') as { encode(s: string | Buffer): string; wrap(s: string, len: number): string };
const mimeFuncs = require('nodemailer/lib/mime-funcs') as { encodeWords(value: string, enc: 'Q' | 'B', maxLength: number): string };

export interface PersonalLinks {
  unsubscribeUrl: string;
  preferencesUrl: string;
}

export interface Personalisation extends PersonalLinks {
  to: string;
  messageId: string;
  /** A follow-up threads to the messages this recipient had: the latest, and all of them. */
  inReplyTo?: string;
  references?: string[];
}

type Segment = { static: Buffer } | { dynamic: string };

const MARKERS = [PERSONAL.unsubscribeUrl, PERSONAL.preferencesUrl];
const encodeQp = (text: string) => qp.wrap(qp.encode(text), 76);
const fillLinks = (text: string, links: PersonalLinks) =>
  text.split(PERSONAL.unsubscribeUrl).join(links.unsubscribeUrl).split(PERSONAL.preferencesUrl).join(links.preferencesUrl);

/** Splits a body into runs of lines; runs without markers are encoded now, the rest per recipient. */
function segment(body: string): Segment[] {
  const lines = body.replace(/\r?\n/g, '\n').split('\n');
  const out: Segment[] = [];
  let run: string[] = [];
  const flush = () => {
    if (run.length) out.push({ static: Buffer.from(encodeQp(run.join('\r\n')), 'utf8') });
    run = [];
  };
  for (const line of lines) {
    if (MARKERS.some((m) => line.includes(m))) {
      flush();
      out.push({ dynamic: line });
    } else run.push(line);
  }
  flush();
  return out;
}

const CRLF = Buffer.from('\r\n');

/** One recipient's body as buffers: the static runs are shared as they are, only the link lines are new. */
function renderSegments(segments: Segment[], links: PersonalLinks): Buffer[] {
  const out: Buffer[] = [];
  segments.forEach((s, i) => {
    if (i > 0) out.push(CRLF);
    out.push('static' in s ? s.static : Buffer.from(encodeQp(fillLinks(s.dynamic, links)), 'utf8'));
  });
  return out;
}

/**
 * A piece of the body in the two forms the sender needs: `wire` (dot-stuffed, CRLF) goes to the
 * SMTP server, `canonical` (DKIM relaxed form) goes into the body hash. Every piece starts at a
 * line start and ends at a line end, so both can be computed piece by piece.
 */
type Piece = { wire: Buffer; canonical: Buffer } | { dynamic: string };

/** The DKIM relaxed form of a piece in wire form (whole lines). */
const canonicalOf = (wire: Buffer): Buffer => Buffer.from(relaxedLines(dotUnstuff(wire).toString('latin1')), 'latin1');

function staticPiece(bytes: Buffer): Piece {
  const wire = dotStuff(bytes);
  return { wire, canonical: canonicalOf(wire) };
}

function pieces(segments: Segment[]): Piece[] {
  const out: Piece[] = [];
  segments.forEach((s, i) => {
    if (i > 0) out.push(staticPiece(CRLF));
    out.push('static' in s ? staticPiece(s.static) : { dynamic: s.dynamic });
  });
  return out;
}

/** What MimeTemplate.message gives the transport: wire form, and the DKIM body hash. */
export interface TemplateMessage {
  raw: Buffer;
  dotStuffed: true;
  /** Computed only when asked (only a signing transport asks): a copy of the shared hash plus the rest. */
  bodyHash: () => string;
}

/** Header values must never carry CR or LF: a stray one would let text inject headers. */
export function assertHeaderSafe(name: string, value: string): string {
  if (/[\r\n\u0000]/.test(value)) throw new Error(`header ${name}: must not contain line breaks`);
  return value;
}

export interface MimeTemplateOptions {
  from: string;
  listId: string;
  date?: Date;
}

export class MimeTemplate {
  private readonly head: string;
  private readonly boundary: string;
  private readonly text: Segment[];
  private readonly html: Segment[];
  private readonly textStart: Buffer;
  private readonly htmlStart: Buffer;
  private readonly end: Buffer;
  /** The body as pieces, and the body hash over the pieces before the first personal one. */
  private readonly body: Piece[];
  private readonly firstPersonal: number;
  private readonly prefixHash: Hash;

  constructor(email: RenderedEmail, options: MimeTemplateOptions) {
    this.boundary = `tocsin-${createHash('sha256').update(email.html).digest('hex').slice(0, 24)}`;
    this.head = [
      `From: ${assertHeaderSafe('From', options.from)}`,
      `Subject: ${mimeFuncs.encodeWords(assertHeaderSafe('Subject', email.subject), 'Q', 52)}`,
      `Date: ${(options.date ?? new Date()).toUTCString().replace('GMT', '+0000')}`,
      `List-Id: ${assertHeaderSafe('List-Id', options.listId)}`,
      'Auto-Submitted: auto-generated',
      'X-Auto-Response-Suppress: OOF, AutoReply',
      `Content-Language: ${assertHeaderSafe('Content-Language', email.language)}`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/alternative; boundary="${this.boundary}"`,
    ].join('\r\n');
    this.text = segment(email.text);
    this.html = segment(email.html);
    const part = (type: string) => `--${this.boundary}\r\nContent-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n`;
    this.textStart = Buffer.from(part('text/plain'));
    this.htmlStart = Buffer.from(`\r\n${part('text/html')}`);
    this.end = Buffer.from(`\r\n--${this.boundary}--\r\n`);
    this.body = [staticPiece(this.textStart), ...pieces(this.text), staticPiece(this.htmlStart), ...pieces(this.html), staticPiece(this.end)];
    const first = this.body.findIndex((p) => 'dynamic' in p);
    this.firstPersonal = first === -1 ? this.body.length : first;
    // Shared by every recipient: hashed once here, and copied (Hash.copy) for each message.
    this.prefixHash = createHash('sha256');
    for (const piece of this.body.slice(0, this.firstPersonal)) if ('canonical' in piece) this.prefixHash.update(piece.canonical);
  }

  private personalHead(p: Personalisation): string {
    return [
      this.head,
      `To: ${assertHeaderSafe('To', p.to)}`,
      `Message-ID: ${assertHeaderSafe('Message-ID', p.messageId)}`,
      ...(p.inReplyTo ? [`In-Reply-To: ${assertHeaderSafe('In-Reply-To', p.inReplyTo)}`] : []),
      ...(p.references?.length ? [`References: ${assertHeaderSafe('References', p.references.join(' '))}`] : []),
      `List-Unsubscribe: <${assertHeaderSafe('List-Unsubscribe', p.unsubscribeUrl)}>`,
      'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
      '',
      '',
    ].join('\r\n');
  }

  /**
   * One message in SMTP wire form (CRLF, dot-stuffed) with its DKIM body hash: the shared parts
   * were stuffed and hashed once per alert; only the personal lines are encoded, stuffed and
   * hashed here. This is what the email worker sends.
   */
  message(p: Personalisation): TemplateMessage {
    const parts: Buffer[] = [Buffer.from(this.personalHead(p), 'utf8')];
    const personal: Buffer[] = [];
    for (const piece of this.body) {
      if ('wire' in piece) parts.push(piece.wire);
      else {
        const wire = dotStuff(Buffer.from(encodeQp(fillLinks(piece.dynamic, p)), 'utf8'));
        personal.push(wire);
        parts.push(wire);
      }
    }
    const bodyHash = () => {
      const hash = this.prefixHash.copy();
      let k = 0;
      for (let i = this.firstPersonal; i < this.body.length; i++) {
        const piece = this.body[i];
        hash.update('canonical' in piece ? piece.canonical : canonicalOf(personal[k++]));
      }
      return hash.digest('base64');
    };
    return { raw: Buffer.concat(parts), dotStuffed: true, bodyHash };
  }

  /**
   * One message as one buffer, as a mail file holds it (not dot-stuffed). The shared parts are already UTF-8 and are copied as they are:
   * joining a ~40 KB string and encoding it again for every recipient cost more CPU than the
   * rest of the pipeline's own work (bench/README.md).
   */
  build(p: Personalisation): Buffer {
    const personal = this.personalHead(p);
    return Buffer.concat([
      Buffer.from(personal, 'utf8'),
      this.textStart,
      ...renderSegments(this.text, p),
      this.htmlStart,
      ...renderSegments(this.html, p),
      this.end,
    ]);
  }
}

/**
 * Deterministic per (alert, version, subscriber): a re-send after a crash carries the same
 * Message-ID, and a follow-up can name the original in In-Reply-To without storing anything.
 */
export function messageIdFor(alertId: string, subscriberId: number, fromAddress: string, version = 1): string {
  const domain = /@([^>\s]+)>?\s*$/.exec(fromAddress)?.[1] ?? 'tocsin.invalid';
  return `<alert.${alertId}${version > 1 ? `.v${version}` : ''}.${subscriberId}@${domain}>`;
}

/** The bare address inside "Name <addr@host>". */
export function envelopeAddress(from: string): string {
  return /<([^>]+)>/.exec(from)?.[1] ?? from.trim();
}
