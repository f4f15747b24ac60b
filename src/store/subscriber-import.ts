import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { defineLua } from './lua.js';
import type { MinLevel } from '../domain/subscriber.js';

// Imported rows are merged into the store one batch at a time, in one Lua call per batch, so an
// import holds a batch in memory, not the file: the address index finds a row's subscriber, and
// duplicates merge in the stored record (countries joined, the lower level kept). A bitfield per
// import run (2 bits per subscriber id, about 250 KB for a million subscribers) remembers what the
// run did to each record, so a repeated address counts as "merged" rather than "updated" again.
// Record fields are those of store/subscribers.ts: e email, c countries, l level (absent = all),
// s status, t created, f confirmed, o consent source.

export interface ImportRow {
  /** Lower-cased address: the identity. */
  normalised: string;
  /** The address as written in the file (trimmed). */
  email: string;
  /** Keyed hash on the suppression list (subscriptions/suppression.ts). */
  suppressionHash: string;
  countries: string[] | '*';
  level: MinLevel;
}

/** What one row did: A added, U updated, N unchanged, M merged into an earlier row, m merged (and that earlier row now counts as updated), S suppressed. */
export type ImportOutcome = 'A' | 'U' | 'N' | 'M' | 'm' | 'S';

// KEYS: suppressed set, run bitfield, then per row its address-index bucket and its record (the
// id the caller found in the bucket, or reserved for a new address: every key is a KEYS argument,
// as Redis Cluster requires). ARGV: now (epoch s), consent source, then per row: normalised,
// email, suppression hash, countries ("*" or "KZ,UA"), level, id, fresh (1: reserved, not yet used).
// A row whose bucket no longer says what the caller read (a concurrent write) comes back 'R', to
// be read and sent again. Run bitfield per id (u2): 0 not seen in this run, 1 added, 2 updated, 3 unchanged.
const importScript = defineLua(
  'subscriber_import',
  'any',
  `
local RANK = { all = 0, watch = 1, warning = 2, emergency = 3 }
local function union(a, b)
  if a == '*' or b == '*' then return '*' end
  local seen, list = {}, {}
  for code in string.gmatch(a .. ',' .. b, '[^,]+') do
    if not seen[code] then seen[code] = true; list[#list + 1] = code end
  end
  table.sort(list)
  return table.concat(list, ',')
end
local now, consent = ARGV[1], ARGV[2]
local out = {}
local n = (#ARGV - 2) / 7
for i = 1, n do
  local a = 2 + (i - 1) * 7
  local norm, email, supp, countries, level, want, fresh = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], ARGV[a + 7]
  local bucket, rec = KEYS[1 + 2 * i], KEYS[2 + 2 * i]
  local id = redis.call('HGET', bucket, norm)
  if redis.call('SISMEMBER', KEYS[1], supp) == 1 then
    out[i] = 'S'
  elseif (not id and fresh ~= '1') or (id and id ~= want) then
    out[i] = 'R'
  else
    if not id then
      id = want
      local fields = { 'e', email, 'c', countries, 's', 'confirmed', 't', now, 'f', now, 'o', consent }
      if level ~= 'all' then fields[#fields + 1] = 'l'; fields[#fields + 1] = level end
      redis.call('HSET', rec, unpack(fields))
      redis.call('HSET', bucket, norm, id)
      redis.call('BITFIELD', KEYS[2], 'SET', 'u2', '#' .. id, 1)
      out[i] = 'A'
    else
      local cur = redis.call('HMGET', rec, 's', 'c', 'l')
      local status = cur[1]
      if status == false or status == 'unsubscribed' or status == 'bounced' or status == 'complained' then
        out[i] = 'S'
      else
        local curCountries = cur[2] or '*'
        local curLevel = cur[3] or 'all'
        local c = union(curCountries, countries)
        local l = curLevel
        if RANK[level] < RANK[curLevel] then l = level end
        local changed = c ~= curCountries or l ~= curLevel or status ~= 'confirmed'
        if changed then
          local fields = { 'c', c, 's', 'confirmed' }
          if status == 'pending' then fields[#fields + 1] = 'f'; fields[#fields + 1] = now; fields[#fields + 1] = 'o'; fields[#fields + 1] = consent end
          redis.call('HSET', rec, unpack(fields))
          if l == 'all' then redis.call('HDEL', rec, 'l') else redis.call('HSET', rec, 'l', l) end
        end
        local prior = redis.call('BITFIELD', KEYS[2], 'GET', 'u2', '#' .. id)[1]
        if prior == 0 then
          redis.call('BITFIELD', KEYS[2], 'SET', 'u2', '#' .. id, changed and 2 or 3)
          out[i] = changed and 'U' or 'N'
        elseif prior == 3 and changed then
          redis.call('BITFIELD', KEYS[2], 'SET', 'u2', '#' .. id, 2)
          out[i] = 'm'
        else
          out[i] = 'M'
        end
      end
    end
  end
end
redis.call('EXPIRE', KEYS[2], 86400)
return out
`,
);

export class SubscriberImportWriter {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly runId: string,
    private readonly consentSource: string,
    private readonly now = Math.floor(Date.now() / 1000),
  ) {}

  /** Merges one batch of rows; returns each row's outcome, in order. */
  async write(rows: ImportRow[]): Promise<ImportOutcome[]> {
    const out: ImportOutcome[] = new Array<ImportOutcome>(rows.length);
    let pending = rows.map((_, i) => i);
    // A row comes back 'R' only when another writer changed its address meanwhile: read again.
    for (let round = 0; pending.length > 0; round++) {
      if (round === 10) throw new Error(`subscriber import: ${pending.length} rows kept changing under a concurrent writer`);
      const batch = pending.map((i) => rows[i]);
      const got = await this.writeOnce(batch);
      pending = pending.filter((i, j) => {
        if (got[j] === 'R') return true;
        out[i] = got[j] as ImportOutcome;
        return false;
      });
    }
    return out;
  }

  private async writeOnce(rows: ImportRow[]): Promise<Array<ImportOutcome | 'R'>> {
    if (rows.length === 0) return [];
    const found = await Promise.all(rows.map((r) => this.redis.hget(this.keys.subscriberByEmail(r.normalised), r.normalised)));
    // One new id per address not yet stored (an address twice in the batch merges into one).
    const fresh = new Map<string, number>();
    rows.forEach((r, i) => {
      if (!found[i]) fresh.set(r.normalised, 0);
    });
    if (fresh.size) {
      const last = await this.redis.incrby(this.keys.subscriberSeq(), fresh.size);
      let next = last - fresh.size;
      for (const norm of fresh.keys()) fresh.set(norm, ++next);
    }
    const ids = rows.map((r, i) => found[i] ?? String(fresh.get(r.normalised)));
    const keys = [this.keys.suppressed(), this.keys.importRun(this.runId)];
    const args: Array<string | number> = [this.now, this.consentSource];
    rows.forEach((r, i) => {
      keys.push(this.keys.subscriberByEmail(r.normalised), this.keys.subscriber(Number(ids[i])));
      args.push(r.normalised, r.email, r.suppressionHash, r.countries === '*' ? '*' : r.countries.join(','), r.level, ids[i], found[i] ? 0 : 1);
    });
    return (await importScript.run(this.redis, keys, args)) as Array<ImportOutcome | 'R'>;
  }

  /** The run's bookkeeping goes when the import ends (it would expire after a day anyway). */
  async finish(): Promise<void> {
    await this.redis.del(this.keys.importRun(this.runId));
  }
}
