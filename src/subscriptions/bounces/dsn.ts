import { errors } from '../../errors.js';
import { emailSchema } from '../../domain/subscriber.js';
import type { BounceEvent, BounceKind } from './types.js';

// RFC 3464 delivery status notifications, for operators whose bounces come back by mail: a
// multipart/report; report-type=delivery-status message whose message/delivery-status part holds
// one block of per-message fields and one block per recipient (Final-Recipient, Action, Status).
// A small MIME walker is enough here and keeps the parser free of heavy dependencies.

export interface DsnRecipient {
  finalRecipient: string;
  originalRecipient?: string;
  /** failed, delayed, delivered, relayed or expanded. */
  action: string;
  /** Enhanced status code, e.g. 5.1.1. */
  status: string;
  diagnosticCode?: string;
  /** failed + 5.x.x is hard, failed + 4.x.x soft; other actions are not bounces. */
  kind: BounceKind | null;
}

export interface DeliveryStatusReport {
  reportingMta?: string;
  recipients: DsnRecipient[];
}

type Headers = Map<string, string>;
const MAX_DEPTH = 6;

function splitHead(text: string): { headers: Headers; body: string } {
  const match = /\r?\n\r?\n/.exec(text);
  const head = match ? text.slice(0, match.index) : text;
  const body = match ? text.slice(match.index + match[0].length) : '';
  return { headers: parseFields(head), body };
}

/** "Name: value" lines with RFC 5322 folding; later duplicates do not overwrite. */
function parseFields(block: string): Headers {
  const out: Headers = new Map();
  const lines = block.split(/\r?\n/);
  let current = '';
  const flush = () => {
    const colon = current.indexOf(':');
    if (colon > 0) {
      const name = current.slice(0, colon).trim().toLowerCase();
      if (!out.has(name))
        out.set(
          name,
          current
            .slice(colon + 1)
            .replace(/\s+/g, ' ')
            .trim(),
        );
    }
    current = '';
  };
  for (const line of lines) {
    if (/^[ \t]/.test(line) && current) current += ` ${line.trim()}`;
    else {
      flush();
      current = line;
    }
  }
  flush();
  return out;
}

function contentType(headers: Headers): { type: string; params: Map<string, string> } {
  const raw = headers.get('content-type') ?? 'text/plain';
  const [type, ...rest] = raw.split(';');
  const params = new Map<string, string>();
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq > 0)
      params.set(
        part.slice(0, eq).trim().toLowerCase(),
        part
          .slice(eq + 1)
          .trim()
          .replace(/^"(.*)"$/, '$1'),
      );
  }
  return { type: type.trim().toLowerCase(), params };
}

function decodeBody(headers: Headers, body: string): string {
  const encoding = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    const bytes = Buffer.from(
      body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
      'latin1',
    );
    return bytes.toString('utf8');
  }
  return body;
}

function multipartParts(body: string, boundary: string): string[] {
  const parts: string[] = [];
  const delimiter = `--${boundary}`;
  const lines = body.split(/\r?\n/);
  let current: string[] | null = null;
  for (const line of lines) {
    if (line.startsWith(delimiter)) {
      if (current) parts.push(current.join('\n'));
      if (line.slice(delimiter.length).startsWith('--')) return parts;
      current = [];
    } else current?.push(line);
  }
  if (current) parts.push(current.join('\n'));
  return parts;
}

/** Finds the delivery-status part anywhere in the message. */
function findStatusPart(text: string, depth = 0): string | null {
  if (depth > MAX_DEPTH) return null;
  const { headers, body } = splitHead(text);
  const { type, params } = contentType(headers);
  if (type === 'message/delivery-status' || type === 'message/global-delivery-status') return decodeBody(headers, body);
  if (type.startsWith('multipart/') && params.get('boundary')) {
    for (const part of multipartParts(body, params.get('boundary')!)) {
      const found = findStatusPart(part, depth + 1);
      if (found !== null) return found;
    }
  }
  return null;
}

function recipientAddress(field: string | undefined): string | undefined {
  if (!field) return undefined;
  // "rfc822; jane@example.org" (or utf-8; ...). The address type is optional in practice.
  const value = field.includes(';') ? field.slice(field.indexOf(';') + 1) : field;
  return value.trim().replace(/^<(.*)>$/, '$1');
}

function classify(action: string, status: string): BounceKind | null {
  if (action !== 'failed') return null;
  if (status.startsWith('5')) return 'hard';
  if (status.startsWith('4')) return 'soft';
  return 'hard';
}

/** Parses a DSN: a whole message, or just the delivery-status fields. Throws DSN_INVALID. */
export function parseDsn(input: Buffer | string): DeliveryStatusReport {
  const text = typeof input === 'string' ? input : input.toString('utf8');
  if (text.trim() === '') throw errors.DSN_INVALID('the input is empty');
  let fields = findStatusPart(text);
  if (fields === null) {
    // Some tools hand over only the delivery-status part, without MIME headers.
    if (/^final-recipient\s*:/im.test(text) && !/^content-type\s*:\s*multipart\//im.test(text)) fields = text;
    else throw errors.DSN_INVALID('no message/delivery-status part (RFC 3464) was found');
  }
  const blocks = fields
    .split(/\r?\n[ \t]*\r?\n/)
    .map((b) => b.trim())
    .filter(Boolean)
    .map(parseFields);
  const report: DeliveryStatusReport = { recipients: [] };
  for (const block of blocks) {
    if (block.has('reporting-mta') && !report.reportingMta) report.reportingMta = recipientAddress(block.get('reporting-mta'));
    const finalRecipient = recipientAddress(block.get('final-recipient'));
    if (!finalRecipient) continue;
    const action = (block.get('action') ?? '').toLowerCase();
    const status = (block.get('status') ?? '').split(/\s/)[0] ?? '';
    report.recipients.push({
      finalRecipient,
      ...(block.get('original-recipient') ? { originalRecipient: recipientAddress(block.get('original-recipient')) } : {}),
      action,
      status,
      ...(block.get('diagnostic-code') ? { diagnosticCode: block.get('diagnostic-code') } : {}),
      kind: classify(action, status),
    });
  }
  if (report.recipients.length === 0) throw errors.DSN_INVALID('the report names no recipient (no Final-Recipient field)');
  return report;
}

/** The bounces a DSN reports, for recordBounces; recipients that are not valid addresses are left out. */
export function dsnEvents(report: DeliveryStatusReport): BounceEvent[] {
  return report.recipients
    .filter((r) => r.kind !== null && emailSchema.safeParse(r.finalRecipient).success)
    .map((r) => ({ email: r.finalRecipient, kind: r.kind as BounceKind, detail: r.status }));
}
