import type { Keys } from './keys.js';
import { defineLua, type RedisClient } from './lua.js';
import { matchesPreferences, type Alert } from '../domain/alert.js';
import { normaliseEmail, type MinLevel, type Subscriber, type SubscriberStatus } from '../domain/subscriber.js';

// Stored form, one small hash per subscriber (Redis keeps it as a compact listpack):
//   e email, c countries ("*" or "KZ,UA"), l min level, s status, g language,
//   t created (epoch s), f confirmed (epoch s), o consent source, v form version.
// Ids come from a counter, so paging by id is a stable order that new subscribers only extend.

const FIELD = {
  email: 'e',
  countries: 'c',
  minLevel: 'l',
  status: 's',
  language: 'g',
  createdAt: 't',
  confirmedAt: 'f',
  consentSource: 'o',
  formVersion: 'v',
} as const;

// KEYS: record. ARGV: field, value... Writes a record only where none is (repairs an address whose
// index entry was written by a create that stopped before its record).
const createRecordScript = defineLua(
  'subscriber_create_record',
  1,
  `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`,
);

// Each subscriber's keys are on their own (a Redis Cluster spreads them over slots), so nothing
// here is a script over several keys: reads are pipelined one command per record, and creating
// claims the address in its index bucket first (HSETNX), then writes the record.

export type NewSubscriber = Omit<Subscriber, 'id' | 'createdAt'> & { createdAt?: number };

function encode(sub: Partial<Subscriber>): Record<string, string> {
  const out: Record<string, string> = {};
  if (sub.email !== undefined) out[FIELD.email] = sub.email;
  if (sub.countries !== undefined) out[FIELD.countries] = sub.countries === '*' ? '*' : sub.countries.join(',');
  if (sub.minLevel !== undefined) out[FIELD.minLevel] = sub.minLevel;
  if (sub.status !== undefined) out[FIELD.status] = sub.status;
  if (sub.language !== undefined) out[FIELD.language] = sub.language;
  if (sub.createdAt !== undefined) out[FIELD.createdAt] = String(sub.createdAt);
  if (sub.confirmedAt !== undefined) out[FIELD.confirmedAt] = String(sub.confirmedAt);
  if (sub.consentSource !== undefined) out[FIELD.consentSource] = sub.consentSource;
  if (sub.formVersion !== undefined) out[FIELD.formVersion] = sub.formVersion;
  return out;
}

const parseCountries = (raw: string): string[] | '*' => (raw === '*' ? '*' : raw.split(',').filter(Boolean));

function decode(id: number, row: Record<string, string>): Subscriber | null {
  if (!row[FIELD.email]) return null;
  return {
    id,
    email: row[FIELD.email],
    countries: parseCountries(row[FIELD.countries] ?? '*'),
    minLevel: (row[FIELD.minLevel] ?? 'all') as MinLevel,
    status: (row[FIELD.status] ?? 'pending') as SubscriberStatus,
    language: row[FIELD.language] ?? 'en',
    createdAt: Number(row[FIELD.createdAt] ?? 0),
    ...(row[FIELD.confirmedAt] ? { confirmedAt: Number(row[FIELD.confirmedAt]) } : {}),
    consentSource: row[FIELD.consentSource] ?? 'unknown',
    ...(row[FIELD.formVersion] ? { formVersion: row[FIELD.formVersion] } : {}),
  };
}

/** What a fan-out reads of a subscriber to decide whether they get an alert. */
export interface SubscriberRow {
  id: number;
  status: SubscriberStatus;
  prefs: { countries: string[] | '*'; minLevel: MinLevel };
}

export interface Recipient {
  id: number;
  email: string;
  language: string;
}

export class SubscriberStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** Creates the subscriber unless the address exists; returns its id and whether it was created. */
  async create(sub: NewSubscriber): Promise<{ id: number; created: boolean }> {
    const record = encode({ ...sub, createdAt: sub.createdAt ?? Math.floor(Date.now() / 1000) });
    // A field at its default is not stored (decode() and matching() fill it in): it keeps a typical
    // record in a smaller allocation, about 16 bytes less per subscriber (bench/README.md).
    if (record[FIELD.language] === 'en') delete record[FIELD.language];
    if (record[FIELD.minLevel] === 'all') delete record[FIELD.minLevel];
    const email = normaliseEmail(sub.email);
    const index = this.keys.subscriberByEmail(email);
    const fields = Object.entries(record).flat();
    const existing = await this.redis.hget(index, email);
    if (existing) {
      await createRecordScript.run(this.redis, [this.keys.subscriber(Number(existing))], fields);
      return { id: Number(existing), created: false };
    }
    const id = await this.redis.incr(this.keys.subscriberSeq());
    if ((await this.redis.hsetnx(index, email, id)) === 0) {
      // Someone created the same address meanwhile: theirs stands (this id stays unused).
      return { id: Number(await this.redis.hget(index, email)), created: false };
    }
    await createRecordScript.run(this.redis, [this.keys.subscriber(id)], fields);
    return { id, created: true };
  }

  /**
   * Creates many new subscribers in two pipelined rounds: ids are reserved at once, every
   * address is claimed in its index bucket (HSETNX), then the records whose address was free are
   * written. An address already known keeps its subscriber (created: false; its reserved id stays
   * unused), as with create(). For seeding large lists (the benchmark); records are create()'s.
   */
  async createNew(subs: NewSubscriber[]): Promise<Array<{ id: number; created: boolean }>> {
    if (subs.length === 0) return [];
    const last = await this.redis.incrby(this.keys.subscriberSeq(), subs.length);
    const first = last - subs.length + 1;
    const now = Math.floor(Date.now() / 1000);
    const emails = subs.map((sub) => normaliseEmail(sub.email));
    // Commands issued together go out back to back on the connection (and to each node of a
    // cluster), without waiting for each answer.
    const claimed = (await Promise.all(emails.map((email, i) => this.redis.hsetnx(this.keys.subscriberByEmail(email), email, first + i)))).map((n) => n === 1);
    const writes: Array<Promise<unknown>> = [];
    subs.forEach((sub, i) => {
      if (!claimed[i]) return;
      const record = encode({ ...sub, createdAt: sub.createdAt ?? now });
      if (record[FIELD.language] === 'en') delete record[FIELD.language];
      if (record[FIELD.minLevel] === 'all') delete record[FIELD.minLevel];
      writes.push(this.redis.hset(this.keys.subscriber(first + i), record));
    });
    await Promise.all(writes);
    const out: Array<{ id: number; created: boolean }> = [];
    for (let i = 0; i < subs.length; i++) {
      if (claimed[i]) out.push({ id: first + i, created: true });
      else out.push({ id: Number(await this.redis.hget(this.keys.subscriberByEmail(emails[i]), emails[i])), created: false });
    }
    return out;
  }

  async update(id: number, changes: Partial<Omit<Subscriber, 'id' | 'email'>>): Promise<void> {
    const fields = encode(changes);
    if (Object.keys(fields).length > 0) await this.redis.hset(this.keys.subscriber(id), fields);
  }

  async get(id: number): Promise<Subscriber | null> {
    return decode(id, await this.redis.hgetall(this.keys.subscriber(id)));
  }

  async idByEmail(email: string): Promise<number | null> {
    const norm = normaliseEmail(email);
    const id = await this.redis.hget(this.keys.subscriberByEmail(norm), norm);
    return id ? Number(id) : null;
  }

  async getByEmail(email: string): Promise<Subscriber | null> {
    const id = await this.idByEmail(email);
    return id ? this.get(id) : null;
  }

  async lastId(): Promise<number> {
    return Number((await this.redis.get(this.keys.subscriberSeq())) ?? 0);
  }

  /** Every subscriber in id order, a page at a time. */
  async *scan(options: { fromId?: number; pageSize?: number } = {}): AsyncGenerator<Subscriber> {
    const pageSize = options.pageSize ?? 1000;
    const last = await this.lastId();
    for (let start = options.fromId ?? 1; start <= last; start += pageSize) {
      const end = Math.min(last, start + pageSize - 1);
      const rows = await Promise.all(Array.from({ length: end - start + 1 }, (_, i) => this.redis.hgetall(this.keys.subscriber(start + i))));
      for (let i = 0; i < rows.length; i++) {
        const sub = decode(start + i, rows[i]);
        if (sub) yield sub;
      }
    }
  }

  /**
   * Confirmed subscribers who want this alert, with id > afterId, in id order, up to `limit`.
   * Returns the ids and the last id examined, so a fan-out can resume exactly where it stopped.
   */
  async matching(
    alert: Pick<Alert, 'level' | 'countries'>,
    afterId: number,
    limit: number,
    pageSize = 1000,
  ): Promise<{ ids: number[]; lastExamined: number; done: boolean }> {
    return this.select(afterId, limit, async (rows) => rows.map((r) => r.status === 'confirmed' && matchesPreferences(alert, r.prefs)), pageSize);
  }

  /**
   * Subscribers with id > afterId that `choose` picks, in id order, up to `limit`; the last id
   * examined lets a fan-out resume exactly where it stopped. Ids without a record are skipped.
   */
  async select(
    afterId: number,
    limit: number,
    choose: (rows: SubscriberRow[]) => Promise<boolean[]>,
    pageSize = 1000,
  ): Promise<{ ids: number[]; lastExamined: number; done: boolean }> {
    const last = await this.lastId();
    const ids: number[] = [];
    let examined = afterId;
    while (examined < last) {
      const start = examined + 1;
      // No bigger than the batch: rows read past the batch's last id would be read again next time.
      const end = Math.min(last, examined + Math.min(pageSize, limit));
      const raw = await Promise.all(
        Array.from({ length: end - start + 1 }, (_, i) => this.redis.hmget(this.keys.subscriber(start + i), FIELD.status, FIELD.countries, FIELD.minLevel)),
      );
      const rows: SubscriberRow[] = [];
      raw.forEach((row, i) => {
        const [status, countries, minLevel] = row.map((v) => v ?? '');
        // A record always has countries; none means the id was never used or was erased.
        if (countries !== '')
          rows.push({
            id: start + i,
            status: status as SubscriberStatus,
            prefs: { countries: parseCountries(countries), minLevel: (minLevel || 'all') as MinLevel },
          });
      });
      const chosen = rows.length ? await choose(rows) : [];
      for (let i = 0; i < rows.length; i++) {
        if (!chosen[i]) continue;
        ids.push(rows[i].id);
        if (ids.length === limit) return { ids, lastExamined: rows[i].id, done: rows[i].id >= last };
      }
      examined = end;
    }
    return { ids, lastExamined: examined, done: true };
  }

  /** Addresses and state needed to send to these ids right now; anyone not confirmed is left out. */
  async recipients(ids: number[]): Promise<Map<number, Recipient>> {
    const rows = await Promise.all(ids.map((id) => this.redis.hmget(this.keys.subscriber(id), FIELD.email, FIELD.status, FIELD.language)));
    const out = new Map<number, Recipient>();
    rows.forEach((row, i) => {
      const [email, status, language] = row;
      if (email && status === 'confirmed') out.set(ids[i], { id: ids[i], email, language: language ?? 'en' });
    });
    return out;
  }

  async countByStatus(): Promise<Record<SubscriberStatus, number>> {
    const counts: Record<SubscriberStatus, number> = { pending: 0, confirmed: 0, unsubscribed: 0, bounced: 0, complained: 0 };
    for await (const sub of this.scan()) counts[sub.status]++;
    return counts;
  }
}
