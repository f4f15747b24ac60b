import { createHash, sign } from 'node:crypto';
import { relaxedBodyHash, relaxedHeader } from './dkim-canon.js';
import { dotUnstuff } from './dot-stuff.js';
import type { DkimKey } from './dkim-keys.js';

// Signs one finished message with each configured key (RFC 6376, relaxed/relaxed; RFC 8463 for
// Ed25519). Written for Tocsin rather than taken from nodemailer's or mailauth's signers: both
// canonicalize the whole 40 KB body in JavaScript streams for every message, and neither can take
// a body hash computed ahead (MimeTemplate hashes the shared parts once per alert). The RSA
// signature runs on libuv's thread pool (crypto.sign with a callback), off the event loop.

/** Headers signed when present; List-Unsubscribe and -Post must be signed for one-click unsubscribe (RFC 8058). */
export const SIGNED_HEADERS = [
  'from',
  'to',
  'cc',
  'reply-to',
  'subject',
  'date',
  'message-id',
  'in-reply-to',
  'references',
  'list-id',
  'list-unsubscribe',
  'list-unsubscribe-post',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'content-language',
  'auto-submitted',
];

const SIGNED = new Set(SIGNED_HEADERS);

interface Field {
  name: string;
  value: string;
}

/** The header fields of a message (before the first empty line), unfolded into name and raw value. */
function headerFields(head: string): Field[] {
  return head
    .split(/\r\n(?![ \t])/)
    .filter((line) => line.length > 0)
    .map((line) => {
      const colon = line.indexOf(':');
      return { name: line.slice(0, colon), value: line.slice(colon + 1) };
    })
    .filter((f) => f.name.length > 0);
}

const signAsync = (algorithm: string | null, data: Buffer, key: DkimKey['key']): Promise<Buffer> =>
  new Promise((resolve, reject) => sign(algorithm, data, key, (err, signature) => (err ? reject(err) : resolve(signature))));

/** Folds a long base64 value so no header line runs past about 76 characters. */
const fold = (value: string) => value.match(/.{1,72}/g)?.join('\r\n\t') ?? '';

export interface SignOptions {
  /** The message is dot-stuffed (SMTP wire form); its body is unstuffed before hashing. */
  dotStuffed?: boolean;
  /** The relaxed body hash, base64, when the caller can give it (MimeTemplate does, cheaply). */
  bodyHash?: string | (() => string);
  /** Seconds since the epoch for t=; default now. */
  time?: number;
}

export class DkimSigner {
  constructor(readonly keys: DkimKey[]) {}

  /**
   * Returns the DKIM-Signature header lines (CRLF-terminated) for `message` (CRLF line ends),
   * one per key; put them before the message's first header.
   */
  async signatures(message: Buffer, options: SignOptions = {}): Promise<string> {
    let split = message.indexOf('\r\n\r\n');
    if (split === -1) split = message.length;
    const fields = headerFields(message.subarray(0, split).toString('latin1'));
    const given = typeof options.bodyHash === 'function' ? options.bodyHash() : options.bodyHash;
    const bodyHash = given ?? relaxedBodyHash(bodyOf(message, split, options.dotStuffed));
    // Each signed field once, bottom-up when a name repeats (RFC 6376 5.4.2).
    const chosen: Field[] = [];
    const seen = new Map<string, number>();
    for (let i = fields.length - 1; i >= 0; i--) {
      const name = fields[i].name.trim().toLowerCase();
      if (!SIGNED.has(name)) continue;
      chosen.push(fields[i]);
      seen.set(name, (seen.get(name) ?? 0) + 1);
    }
    if (!seen.has('from')) throw new Error('DKIM: the message has no From header to sign');
    const ordered = chosen.reverse();
    const canonical = ordered.map((f) => `${relaxedHeader(f.name, f.value)}\r\n`).join('');
    const h = ordered.map((f) => f.name.trim().toLowerCase()).join(':');
    const t = options.time ?? Math.floor(Date.now() / 1000);
    const lines = await Promise.all(
      this.keys.map(async (key) => {
        const value = `v=1; a=${key.algorithm}; c=relaxed/relaxed; d=${key.domain}; s=${key.selector};\r\n\tt=${t}; h=${h};\r\n\tbh=${bodyHash};\r\n\tb=`;
        const data = Buffer.from(canonical + relaxedHeader('DKIM-Signature', value), 'latin1');
        const signature =
          key.algorithm === 'rsa-sha256'
            ? await signAsync('sha256', data, key.key)
            : await signAsync(null, createHash('sha256').update(data).digest(), key.key);
        return `DKIM-Signature: ${value}${fold(signature.toString('base64'))}\r\n`;
      }),
    );
    return lines.join('');
  }

  /** The message with its signatures in front. */
  async sign(message: Buffer, options: SignOptions = {}): Promise<Buffer> {
    return Buffer.concat([Buffer.from(await this.signatures(message, options), 'latin1'), message]);
  }
}

function bodyOf(message: Buffer, split: number, dotStuffed?: boolean): Buffer {
  const body = message.subarray(Math.min(message.length, split + 4));
  return dotStuffed ? dotUnstuff(body) : body;
}
