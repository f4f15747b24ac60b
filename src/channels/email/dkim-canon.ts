import { createHash } from 'node:crypto';

// DKIM "relaxed" canonicalization (RFC 6376 3.4.2 and 3.4.4), for headers and bodies. The body
// rules work line by line, so text cut at line boundaries can be canonicalized piece by piece
// and the pieces hashed in order: MimeTemplate does that once per alert for the shared parts.

/** One header field, relaxed: lower-case name, unfolded, runs of spaces as one, trimmed. */
export function relaxedHeader(name: string, value: string): string {
  return `${name.trim().toLowerCase()}:${value
    .replace(/\r\n/g, '')
    .replace(/[ \t]+/g, ' ')
    .trim()}`;
}

/**
 * Relaxed body form of whole lines. `text` ends at a line end (the CRLF itself may follow in the
 * next piece), so trailing spaces at its very end are removed too. Latin-1 keeps bytes as they are.
 */
export function relaxedLines(text: string): string {
  return text.replace(/[ \t]+(?=\r\n|$)/g, '').replace(/[ \t]+/g, ' ');
}

/** Relaxed body hash of a whole body (CRLF line ends, not dot-stuffed), base64. */
export function relaxedBodyHash(body: Buffer): string {
  let text = relaxedLines(body.toString('latin1'));
  // Empty lines at the end are ignored; a non-empty body ends with exactly one CRLF.
  text = text.replace(/(?:\r\n)+$/, '');
  if (text.length > 0) text += '\r\n';
  return createHash('sha256').update(text, 'latin1').digest('base64');
}
