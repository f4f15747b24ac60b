import type { Context } from '../context.js';
import { levelRank, type Level } from '../domain/alert.js';
import type { PublicEntry } from '../store/versions.js';

// Every public page, feed and sitemap is drawn from one in-memory snapshot of the public index.
// Each request reads one counter from Redis; the index itself is read again only when the counter
// has moved (something was published, corrected or retracted). A slug that is not in the snapshot
// is a 404 whatever else exists in Redis: drafts never enter the index, so "no such alert" and
// "not published yet" take the same path and the same time.

export interface Snapshot {
  generation: string;
  /** Newest first: by issued date, then by id. */
  entries: PublicEntry[];
  bySlug: Map<string, PublicEntry>;
  byId: Map<string, PublicEntry>;
  /** Alerts that update or cancel each alert id. */
  referencedBy: Map<string, PublicEntry[]>;
  /** When anything public last changed. */
  lastModified: Date;
}

export const sortKey = (e: Pick<PublicEntry, 'issuedAt' | 'id'>): string => `${new Date(e.issuedAt).toISOString()}|${e.id}`;

export class SnapshotSource {
  private current: Snapshot | undefined;
  private loading: Promise<Snapshot> | undefined;

  constructor(private readonly ctx: Pick<Context, 'redis' | 'keys'>) {}

  async get(): Promise<Snapshot> {
    const generation = (await this.ctx.redis.get(this.ctx.keys.publicGeneration())) ?? '0';
    if (this.current?.generation === generation) return this.current;
    // One reload at a time; requests arriving meanwhile share it.
    this.loading ??= this.load(generation).finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async load(generation: string): Promise<Snapshot> {
    const raw = await this.ctx.redis.hgetall(this.ctx.keys.publicEntries());
    const entries = Object.values(raw)
      .map((json) => JSON.parse(json) as PublicEntry)
      .sort((a, b) => (sortKey(a) < sortKey(b) ? 1 : -1));
    const referencedBy = new Map<string, PublicEntry[]>();
    for (const e of entries) {
      for (const target of [e.updates, e.cancels]) if (target) referencedBy.set(target, [...(referencedBy.get(target) ?? []), e]);
    }
    const newest = entries.reduce((max, e) => Math.max(max, Date.parse(e.updatedAt)), 0);
    const snapshot: Snapshot = {
      generation,
      entries,
      bySlug: new Map(entries.map((e) => [e.slug, e])),
      byId: new Map(entries.map((e) => [e.id, e])),
      referencedBy,
      lastModified: new Date(newest || 0),
    };
    // A slower load must not replace a newer snapshot.
    if (!this.current || Number(generation) >= Number(this.current.generation)) this.current = snapshot;
    return snapshot;
  }
}

export interface ListFilter {
  country?: string;
  /** Exactly this level ('report' for alerts without one). */
  level?: Level | 'report';
  /** This level or higher. */
  minLevel?: Level;
  year?: number;
}

export function filterEntries(entries: PublicEntry[], filter: ListFilter): PublicEntry[] {
  return entries.filter(
    (e) =>
      (!filter.country || e.countries.includes(filter.country)) &&
      (!filter.level || (filter.level === 'report' ? e.level === null : e.level === filter.level)) &&
      (!filter.minLevel || levelRank(e.level) >= levelRank(filter.minLevel)) &&
      (!filter.year || new Date(e.issuedAt).getUTCFullYear() === filter.year),
  );
}

/** A cursor is the sort key of the last entry shown; the next page starts after it. */
export function encodeCursor(e: PublicEntry): string {
  return `${Date.parse(e.issuedAt)}-${e.id}`;
}

export function pageAfter(entries: PublicEntry[], cursor: string | undefined, size: number): { items: PublicEntry[]; next?: string } {
  let start = 0;
  if (cursor) {
    const m = /^(\d{1,15})-([0-9A-HJKMNP-TV-Z]{26})$/.exec(cursor);
    const after = m ? `${new Date(Number(m[1])).toISOString()}|${m[2]}` : '';
    start = entries.findIndex((e) => sortKey(e) < after);
    if (start < 0) start = entries.length;
  }
  const items = entries.slice(start, start + size);
  const more = start + size < entries.length;
  return { items, ...(more && items.length ? { next: encodeCursor(items[items.length - 1]) } : {}) };
}
