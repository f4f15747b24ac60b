// SMTP's DATA ends at a line holding a single ".", so every line that starts with "." is sent with
// one more (RFC 5321 4.5.2), and every line ends in CRLF. MimeTemplate stuffs the parts shared by
// every recipient once per alert; this does it for whole messages that were not (subscription
// mails) and for the few per-recipient lines. Buffer.indexOf is native, so a 40 KB message costs a
// few microseconds, not a JavaScript loop over every byte.

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

const DOT_BUF = Buffer.from('.');

/** True when every LF follows a CR and every CR precedes an LF. */
function hasOnlyCrlf(buf: Buffer): boolean {
  for (let i = buf.indexOf(LF); i !== -1; i = buf.indexOf(LF, i + 1)) if (i === 0 || buf[i - 1] !== CR) return false;
  for (let i = buf.indexOf(CR); i !== -1; i = buf.indexOf(CR, i + 1)) if (buf[i + 1] !== LF) return false;
  return true;
}

/** True when `buf` has no bare LF, no bare CR and no line starting with "." (it can be sent as it is). */
export function isWireSafe(buf: Buffer): boolean {
  if (buf.length > 0 && buf[0] === DOT) return false;
  for (let i = buf.indexOf(LF); i !== -1; i = buf.indexOf(LF, i + 1)) {
    if (i === 0 || buf[i - 1] !== CR) return false;
    if (buf[i + 1] === DOT) return false;
  }
  // A CR not followed by LF would be taken as a line end by some servers.
  for (let i = buf.indexOf(CR); i !== -1; i = buf.indexOf(CR, i + 1)) if (buf[i + 1] !== LF) return false;
  return true;
}

/**
 * Returns `buf` with line ends as CRLF and a "." added to each line starting with one. `atLineStart`
 * says whether the first byte begins a line (true for a whole message or a segment after CRLF).
 */
export function dotStuff(input: Buffer | string, atLineStart = true): Buffer {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (isWireSafe(buf)) return buf;
  if (hasOnlyCrlf(buf)) {
    // Line ends are right: only the dots, copied in runs between "\r\n." (native, not per byte).
    const parts: Buffer[] = [];
    let from = 0;
    if (atLineStart && buf[0] === DOT) {
      parts.push(DOT_BUF);
    }
    for (let i = buf.indexOf('\n.'); i !== -1; i = buf.indexOf('\n.', i + 1)) {
      parts.push(buf.subarray(from, i + 1), DOT_BUF);
      from = i + 1;
    }
    parts.push(buf.subarray(from));
    return Buffer.concat(parts);
  }
  const out = Buffer.allocUnsafe(buf.length * 2 + 2);
  let o = 0;
  let lineStart = atLineStart;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    if (lineStart && b === DOT) out[o++] = DOT;
    lineStart = false;
    if (b === CR) {
      out[o++] = CR;
      out[o++] = LF;
      if (buf[i + 1] === LF) i++;
      lineStart = true;
    } else if (b === LF) {
      out[o++] = CR;
      out[o++] = LF;
      lineStart = true;
    } else out[o++] = b;
  }
  return out.subarray(0, o);
}

/** The inverse for a stuffed, CRLF message: what the receiving server stores (DKIM hashes this). */
export function dotUnstuff(buf: Buffer): Buffer {
  if (buf[0] !== DOT && buf.indexOf('\n.') === -1) return buf;
  const parts: Buffer[] = [];
  let from = 0;
  if (buf[0] === DOT) from = 1;
  for (let i = buf.indexOf('\n.', from); i !== -1; i = buf.indexOf('\n.', i + 2)) {
    parts.push(buf.subarray(from, i + 1));
    from = i + 2;
  }
  parts.push(buf.subarray(from));
  return Buffer.concat(parts);
}

/** True when the buffer ends with CRLF (else the terminator must add one before "."). */
export const endsWithCrlf = (buf: Buffer): boolean => buf.length >= 2 && buf[buf.length - 2] === CR && buf[buf.length - 1] === LF;
