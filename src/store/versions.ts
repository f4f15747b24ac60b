import { z } from 'zod';
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { defineLua } from './lua.js';
import { publicAlertSchema, type PublicAlert } from '../domain/public-alert.js';
import { errors } from '../errors.js';

// An alert's public record is a list of versions: publishing makes version 1 ('original'), each
// correction a new version, a retraction the last one. Versions are never changed or removed.
// Appending a version also updates the public index (src/store/public-index.ts) in the same
// script, so a page, a feed and the sitemap can never disagree about what is public.

export const VERSION_KINDS = ['original', 'correction', 'retraction'] as const;
export type VersionKind = (typeof VERSION_KINDS)[number];

/** The Ed25519 signature of a version, over `document`: its canonical JSON (src/signing). */
export const versionSignatureSchema = z.object({
  kid: z.string().min(1).max(100),
  alg: z.literal('EdDSA'),
  sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/, 'must be a base64url Ed25519 signature'),
  document: z.string().min(2),
});
export type VersionSignature = z.output<typeof versionSignatureSchema>;

export const versionSchema = z
  .object({
    version: z.number().int().min(1),
    kind: z.enum(VERSION_KINDS),
    at: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }),
    by: z.string().trim().min(1).max(200).optional(),
    /** What changed (a correction). */
    note: z.string().trim().min(1).max(2000).optional(),
    /** Why it was retracted. */
    reason: z.string().trim().min(1).max(2000).optional(),
    alert: publicAlertSchema,
    /** Set when the version is appended; absent on versions from before signing existed. */
    signature: versionSignatureSchema.optional(),
  })
  .superRefine((v, ctx) => {
    if ((v.version === 1) !== (v.kind === 'original'))
      ctx.addIssue({ code: 'custom', path: ['kind'], message: 'version 1 is the original, and only version 1' });
    if (v.kind === 'correction' && !v.note) ctx.addIssue({ code: 'custom', path: ['note'], message: 'a correction says what changed' });
    if (v.kind === 'retraction' && !v.reason) ctx.addIssue({ code: 'custom', path: ['reason'], message: 'a retraction says why' });
  });

export type AlertVersion = z.output<typeof versionSchema>;
export type AlertVersionInput = z.input<typeof versionSchema>;

export type PublicStatus = 'published' | 'corrected' | 'retracted';

/** What lists, feeds, the sitemap and cross-links need about an alert's latest public version. */
export interface PublicEntry {
  id: string;
  slug: string;
  version: number;
  status: PublicStatus;
  /** When version 1 was published. */
  publishedAt: string;
  /** When the latest version was published. */
  updatedAt: string;
  level: PublicAlert['level'];
  countries: string[];
  region?: string;
  title: string;
  summary: string;
  issuedAt: string;
  language: string;
  image?: { url: string; alt: string };
  canonicalUrl?: string;
  updates?: string;
  cancels?: string;
  history: Array<{ version: number; kind: VersionKind; at: string; note?: string; reason?: string }>;
}

const statusOf = (kind: VersionKind): PublicStatus => (kind === 'original' ? 'published' : kind === 'correction' ? 'corrected' : 'retracted');

/** The index entry for an alert, from all its versions (oldest first). */
export function publicEntry(versions: AlertVersion[]): PublicEntry {
  const first = versions[0];
  const latest = versions[versions.length - 1];
  const a = latest.alert;
  return {
    id: a.id,
    // The address never changes: a correction cannot move the page.
    slug: first.alert.slug,
    version: latest.version,
    status: statusOf(latest.kind),
    publishedAt: first.at,
    updatedAt: latest.at,
    level: a.level,
    countries: a.countries,
    ...(a.region ? { region: a.region } : {}),
    title: a.title,
    summary: a.summary,
    issuedAt: a.issuedAt,
    language: a.language,
    ...(a.image ? { image: { url: a.image.url, alt: a.image.alt } } : {}),
    ...(a.canonicalUrl ? { canonicalUrl: a.canonicalUrl } : {}),
    ...(a.updates ? { updates: a.updates } : {}),
    ...(a.cancels ? { cancels: a.cancels } : {}),
    history: versions.map((v) => ({
      version: v.version,
      kind: v.kind,
      at: v.at,
      ...(v.note ? { note: v.note } : {}),
      ...(v.reason ? { reason: v.reason } : {}),
    })),
  };
}

export type AppendResult = { appended: boolean; version: AlertVersion };

/** Signs a version as it is appended (src/signing); throws when signing is on and no key is set. */
export type VersionSigner = (version: AlertVersion) => VersionSignature;

export class VersionStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly signer?: VersionSigner,
  ) {}

  /**
   * Appends version `input.version` of an alert. Idempotent per (alert, version): if that version
   * exists it is returned unchanged with appended=false. Refuses a gap (version 3 before 2) and
   * anything after a retraction.
   */
  async appendVersion(input: AlertVersionInput): Promise<AppendResult> {
    const parsed = versionSchema.safeParse(input);
    if (!parsed.success) throw errors.ALERT_INVALID(parsed.error.issues.map((i) => `${i.path.join('.') || 'version'}: ${i.message}`).join('; '));
    const alertId = parsed.data.alert.id;
    const existing = await this.get(alertId, parsed.data.version);
    if (existing) return { appended: false, version: existing };
    // Signed here, the one place every version (original, correction, retraction) is written.
    const { signature: _unsigned, ...unsigned } = parsed.data;
    const version: AlertVersion = this.signer ? { ...unsigned, signature: this.signer(unsigned) } : unsigned;
    const earlier = version.version > 1 ? await this.all(alertId) : [];
    const entry = publicEntry([...earlier.slice(0, version.version - 1), version]);
    const [code, value] = (await appendScript.run(
      this.redis,
      [this.keys.versions(alertId), this.keys.publicEntries(), this.keys.publicSlugs(), this.keys.publicGeneration()],
      [version.version, JSON.stringify(version), JSON.stringify(entry), entry.slug, alertId],
    )) as [number, string];
    if (code === 1) return { appended: true, version };
    if (code === 0) return { appended: false, version: decode(value) };
    if (code === -2) throw errors.ALERT_NOT_PUBLISHABLE(version.alert.slug, 'retracted');
    throw errors.ALERT_INVALID(`version: alert ${alertId} has ${value} versions, so the next one is ${Number(value) + 1}, not ${version.version}`);
  }

  async get(alertId: string, version: number): Promise<AlertVersion | null> {
    const raw = await this.redis.hget(this.keys.versions(alertId), String(version));
    return raw ? decode(raw) : null;
  }

  /** Every version, oldest first. */
  async all(alertId: string): Promise<AlertVersion[]> {
    const raw = await this.redis.hgetall(this.keys.versions(alertId));
    return Object.values(raw)
      .map(decode)
      .sort((a, b) => a.version - b.version);
  }

  async count(alertId: string): Promise<number> {
    return this.redis.hlen(this.keys.versions(alertId));
  }

  async latest(alertId: string): Promise<AlertVersion | null> {
    const n = await this.count(alertId);
    return n ? this.get(alertId, n) : null;
  }

  /** Rewrites the index entry from the stored versions (repair after a lost write; idempotent). */
  async reindex(alertId: string): Promise<PublicEntry | null> {
    const versions = await this.all(alertId);
    if (!versions.length) return null;
    const entry = publicEntry(versions);
    await this.redis
      .multi()
      .hset(this.keys.publicEntries(), alertId, JSON.stringify(entry))
      .hset(this.keys.publicSlugs(), entry.slug, alertId)
      .incr(this.keys.publicGeneration())
      .exec();
    return entry;
  }
}

function decode(raw: string): AlertVersion {
  return versionSchema.parse(JSON.parse(raw));
}

// KEYS: versions hash, entries hash, slugs hash, generation. ARGV: n, version JSON, entry JSON, slug, id.
const appendScript = defineLua(
  'versions_append',
  4,
  `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then return {0, existing} end
local n = tonumber(ARGV[1])
local count = redis.call('HLEN', KEYS[1])
if count ~= n - 1 then return {-1, tostring(count)} end
if n > 1 then
  local prev = cjson.decode(redis.call('HGET', KEYS[1], tostring(n - 1)))
  if prev.kind == 'retraction' then return {-2, ''} end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[5], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
redis.call('INCR', KEYS[4])
return {1, ARGV[2]}
`,
);
