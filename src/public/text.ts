import { LEVEL_NAMES, type Level } from '../domain/alert.js';

// Small pure helpers shared by pages, feeds and CAP: cleaning attacker-controlled text of what no
// format can carry, dates in two forms, sizes and type names people can read.

// C0 controls other than tab, line feed and carriage return, DEL, the non-characters U+FFFE and
// U+FFFF, and lone surrogate halves. XML 1.0 cannot carry them even as character references.
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Text with the characters no XML document (and no sensible page) may contain removed. */
export function clean(text: string): string {
  return text.replace(NOT_XML, '');
}

/** Deep copy of a JSON-like value with every string cleaned. */
export function cleanDeep<T>(value: T): T {
  if (typeof value === 'string') return clean(value) as T;
  if (Array.isArray(value)) return value.map(cleanDeep) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cleanDeep(v)])) as T;
  return value;
}

const humanDate = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });

/** "8 January 2022" (UTC). */
export function dateForPeople(iso: string): string {
  return humanDate.format(new Date(iso));
}

export function levelName(level: Level | null): string {
  return level ? LEVEL_NAMES[level] : 'Report';
}

/** "PDF, 85 KB". */
export function describeAttachment(mediaType: string | undefined, bytes: number | undefined): string {
  const type = mediaType ? (mediaType === 'application/pdf' ? 'PDF' : (mediaType.split('/')[1] ?? mediaType).toUpperCase()) : '';
  return [type, bytes === undefined ? '' : humanSize(bytes)].filter(Boolean).join(', ');
}

export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** A ULID is 128 bits: written as a UUID it gives feed entries a `urn:uuid:` id that never changes. */
export function ulidToUuid(ulid: string): string {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let n = 0n;
  for (const ch of ulid.toUpperCase()) n = n * 32n + BigInt(alphabet.indexOf(ch));
  const hex = n.toString(16).padStart(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** JSON safe to place inside an HTML <script type="application/ld+json"> element. */
export function jsonForHtml(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}
