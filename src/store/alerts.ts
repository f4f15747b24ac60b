import type { Redis } from 'ioredis';
import type { Alert, AlertStatus } from '../domain/alert.js';
import type { ValidAlertInput } from '../domain/parse.js';
import type { Keys } from './keys.js';
import { defineLua } from './lua.js';
import { multiOrEach } from './cluster.js';
import { errors } from '../errors.js';

const ULID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export class AlertStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** Stores a new alert; the slug must be free. */
  async create(alert: Alert): Promise<Alert> {
    const claimed = await this.redis.set(this.keys.alertSlug(alert.slug), alert.id, 'NX');
    if (claimed !== 'OK') throw errors.ALERT_EXISTS(alert.slug);
    const { status, updatedAt, ...doc } = alert;
    // On a cluster the alert (its own slot) and the index are two writes, the alert first.
    await multiOrEach(this.redis, (tx) =>
      tx.hset(this.keys.alert(alert.id), { doc: JSON.stringify(doc), status, updatedAt }).zadd(this.keys.alertIndex(), 0, alert.id),
    );
    return alert;
  }

  async get(idOrSlug: string): Promise<Alert | null> {
    const id = ULID_RE.test(idOrSlug) ? idOrSlug : await this.redis.get(this.keys.alertSlug(idOrSlug));
    if (!id) return null;
    return decode(await this.redis.hgetall(this.keys.alert(id)));
  }

  async require(idOrSlug: string): Promise<Alert> {
    const alert = await this.get(idOrSlug);
    if (!alert) throw errors.ALERT_NOT_FOUND(idOrSlug);
    return alert;
  }

  /** Newest first. Ids are ULIDs, so lexical order is creation order. */
  async list(options: { limit?: number; before?: string } = {}): Promise<Alert[]> {
    const max = options.before ? `(${options.before}` : '+';
    const ids = await this.redis.zrevrangebylex(this.keys.alertIndex(), max, '-', 'LIMIT', 0, options.limit ?? 50);
    // Auto-pipelined: one round trip on a server, one per node on a cluster (alerts spread over slots).
    const rows = await Promise.all(ids.map((id) => this.redis.hgetall(this.keys.alert(id))));
    return rows.map((row) => decode(row)).filter((a): a is Alert => a !== null);
  }

  /**
   * Replaces a draft's content if it is still the version the editor started from (`expected`
   * is its updatedAt; '' skips the check). The id, slug and author never change.
   */
  async updateDraft(
    current: Alert,
    fields: Omit<ValidAlertInput, 'slug'>,
    expected: string,
  ): Promise<{ result: 'ok' | 'missing' | 'status' | 'conflict'; status: string }> {
    const stored = {
      ...fields,
      id: current.id,
      slug: current.slug,
      createdAt: current.createdAt,
      ...(current.createdBy ? { createdBy: current.createdBy } : {}),
    };
    const [result, status] = (await updateDraftScript.run(
      this.redis,
      [this.keys.alert(current.id)],
      [JSON.stringify(stored), new Date().toISOString(), expected],
    )) as ['ok' | 'missing' | 'status' | 'conflict', string];
    return { result, status };
  }

  /**
   * Moves an alert from one of `from` to `to` atomically and returns whether it moved.
   * Two publishers racing on the same alert: exactly one sees changed=true.
   */
  async transition(
    id: string,
    from: readonly AlertStatus[],
    to: AlertStatus,
    extra: Record<string, string> = {},
  ): Promise<{ changed: boolean; previous: AlertStatus | null }> {
    const fields = Object.entries({ ...extra, updatedAt: new Date().toISOString() }).flat();
    const previous = (await transitionScript.run(this.redis, [this.keys.alert(id)], [to, from.length, ...from, ...fields])) as [number, string | null];
    return { changed: previous[0] === 1, previous: previous[1] as AlertStatus | null };
  }
}

// KEYS[1] alert hash. ARGV: doc JSON, now, expected updatedAt ('' = any).
// Only drafts and approved alerts change; an approved alert goes back to draft (approve again).
const updateDraftScript = defineLua(
  'alert_update_draft',
  1,
  `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing', ''} end
if status ~= 'draft' and status ~= 'approved' then return {'status', status} end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'updatedAt') ~= ARGV[3] then return {'conflict', status} end
redis.call('HSET', KEYS[1], 'doc', ARGV[1], 'status', 'draft', 'updatedAt', ARGV[2])
redis.call('HDEL', KEYS[1], 'approvedBy', 'approvedAt')
return {'ok', status}
`,
);

// KEYS[1] alert hash; ARGV: to, nFrom, from..., field, value, ...
const transitionScript = defineLua(
  'alert_transition',
  1,
  `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {0, false} end
local n = tonumber(ARGV[2])
for i = 3, 2 + n do
  if ARGV[i] == status then
    redis.call('HSET', KEYS[1], 'status', ARGV[1])
    for j = 3 + n, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[j], ARGV[j + 1]) end
    return {1, status}
  end
end
return {0, status}
`,
);

function decode(row: Record<string, string> | null): Alert | null {
  if (!row || !row.doc) return null;
  const { doc, ...state } = row;
  return { ...(JSON.parse(doc) as Alert), ...state } as Alert;
}
