import type { Context } from '../context.js';
import { SUBSCRIBER_STATUSES, type Subscriber, type SubscriberStatus } from '../domain/subscriber.js';

// CSV for moving subscribers to another system (or back into Tocsin: `subscribers import` reads
// the email, countries and level columns and ignores the rest). The consent columns travel with
// each row so the next system knows how and when each person agreed.

export const EXPORT_COLUMNS = ['email', 'countries', 'level', 'status', 'language', 'created_at', 'confirmed_at', 'consent_source', 'form_version'] as const;

function cell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

const iso = (epochS?: number) => (epochS ? new Date(epochS * 1000).toISOString() : '');

export function exportRow(s: Subscriber): string {
  return [
    s.email,
    s.countries === '*' ? '*' : s.countries.join(';'),
    s.minLevel,
    s.status,
    s.language,
    iso(s.createdAt),
    iso(s.confirmedAt),
    s.consentSource,
    s.formVersion ?? '',
  ]
    .map(cell)
    .join(',');
}

export function parseStatuses(option: string | undefined): SubscriberStatus[] {
  if (!option || option === 'confirmed') return ['confirmed'];
  if (option === 'all') return [...SUBSCRIBER_STATUSES];
  const list = option.split(',').map((s) => s.trim());
  for (const s of list)
    if (!(SUBSCRIBER_STATUSES as readonly string[]).includes(s)) throw new Error(`status "${s}": must be one of ${SUBSCRIBER_STATUSES.join(', ')} or all`);
  return list as SubscriberStatus[];
}

/** CSV lines (header first), each ending in CRLF, for the subscribers with these statuses. */
export async function* exportSubscribers(ctx: Context, statuses: SubscriberStatus[] = ['confirmed']): AsyncGenerator<string> {
  yield `${EXPORT_COLUMNS.join(',')}\r\n`;
  const wanted = new Set(statuses);
  for await (const sub of ctx.subscribers.scan()) if (wanted.has(sub.status)) yield `${exportRow(sub)}\r\n`;
}
