import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

// Who did what to an alert, and when: kept in Redis beside the alert, shown on its page and
// exportable. Append-only; the newest 10,000 entries per alert are kept.

export const AUDIT_ACTIONS = [
  'created',
  'edited',
  'approved',
  'publish-requested',
  'scheduled',
  'schedule-cancelled',
  'scheduled-publish',
  'retried',
  'resolved-unknown',
  'halted',
  'resumed',
  'corrected',
  'retracted',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEntry {
  at: string;
  actor: string;
  role?: string;
  action: AuditAction;
  detail?: string;
}

const MAX_ENTRIES = 10_000;

export class AuditLog {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async record(alertId: string, entry: Omit<AuditEntry, 'at'> & { at?: string }): Promise<AuditEntry> {
    const full: AuditEntry = {
      at: entry.at ?? new Date().toISOString(),
      actor: entry.actor,
      action: entry.action,
      ...(entry.role ? { role: entry.role } : {}),
      ...(entry.detail ? { detail: entry.detail } : {}),
    };
    const key = this.keys.audit(alertId);
    await this.redis.multi().rpush(key, JSON.stringify(full)).ltrim(key, -MAX_ENTRIES, -1).exec();
    return full;
  }

  /** Oldest first. */
  async list(alertId: string): Promise<AuditEntry[]> {
    return (await this.redis.lrange(this.keys.audit(alertId), 0, -1)).map((raw) => JSON.parse(raw) as AuditEntry);
  }
}

const CSV_COLUMNS = ['at', 'actor', 'role', 'action', 'detail'] as const;

/** RFC 4180 CSV. Cells that a spreadsheet would run as a formula are prefixed with a quote. */
export function auditCsv(entries: AuditEntry[]): string {
  const cell = (value: string | undefined) => {
    let v = value ?? '';
    if (/^[=+\-@\t\r]/.test(v)) v = `'${v}`;
    return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
  };
  return [CSV_COLUMNS.join(','), ...entries.map((e) => CSV_COLUMNS.map((c) => cell(e[c])).join(','))].join('\r\n') + '\r\n';
}
