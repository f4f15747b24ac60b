import type { AlertVersion, VersionKind } from '../store/versions.js';
import type { PublicAlert } from '../domain/public-alert.js';
import { alertPageUrl } from '../domain/alert-link.js';

// The document each published version's Ed25519 signature covers (README "Signatures and
// verification"). Every field a reader sees is in it; staff names and delivery details are not.
// Absent optional values are null, so the set of keys is the same in every version of the format.

export const SIGNED_DOCUMENT_TYPE = 'tocsin.alert-version/1';

export interface SignedDocument {
  type: typeof SIGNED_DOCUMENT_TYPE;
  /** The public origin that published it, e.g. "https://alerts.example.org". */
  issuer: string;
  id: string;
  version: number;
  versionId: string;
  previousVersionId: string | null;
  kind: VersionKind;
  status: 'published' | 'corrected' | 'retracted';
  /** When this version was published. */
  publishedAt: string;
  /** What changed (a correction) and why it was retracted (a retraction). */
  note: string | null;
  reason: string | null;
  /** The alert's page on the issuer's site. */
  link: string;
  alert: {
    slug: string;
    title: string;
    level: PublicAlert['level'] | null;
    countries: string[];
    region: string | null;
    issuedAt: string;
    language: string;
    summary: string;
    body: string;
    stages: unknown;
    recommendations: unknown;
    image: { url: string; alt: string; caption: string | null; credit: string | null; creditUrl: string | null } | null;
    attachments: Array<{ url: string; title: string; mediaType: string | null; bytes: number | null }>;
    canonicalUrl: string | null;
    updates: string | null;
    cancels: string | null;
  };
}

export const versionIdOf = (alertId: string, version: number): string => `${alertId}.v${version}`;

const statusOf = (kind: VersionKind): SignedDocument['status'] => (kind === 'original' ? 'published' : kind === 'correction' ? 'corrected' : 'retracted');

/** The document for one version; `publicUrl` is http.publicUrl at publish time. */
export function signedDocument(version: Omit<AlertVersion, 'signature'>, publicUrl: string): SignedDocument {
  const a = version.alert;
  const origin = new URL(publicUrl).origin;
  return {
    type: SIGNED_DOCUMENT_TYPE,
    issuer: origin,
    id: a.id,
    version: version.version,
    versionId: versionIdOf(a.id, version.version),
    previousVersionId: version.version > 1 ? versionIdOf(a.id, version.version - 1) : null,
    kind: version.kind,
    status: statusOf(version.kind),
    publishedAt: version.at,
    note: version.note ?? null,
    reason: version.reason ?? null,
    link: alertPageUrl(publicUrl, a.slug),
    alert: {
      slug: a.slug,
      title: a.title,
      level: a.level ?? null,
      countries: a.countries,
      region: a.region ?? null,
      issuedAt: a.issuedAt,
      language: a.language,
      summary: a.summary,
      body: a.body,
      stages: a.stages,
      recommendations: a.recommendations,
      image: a.image
        ? { url: a.image.url, alt: a.image.alt, caption: a.image.caption ?? null, credit: a.image.credit ?? null, creditUrl: a.image.creditUrl ?? null }
        : null,
      attachments: a.attachments.map((f) => ({ url: f.url, title: f.title, mediaType: f.mediaType ?? null, bytes: f.bytes ?? null })),
      canonicalUrl: a.canonicalUrl ?? null,
      updates: a.updates ?? null,
      cancels: a.cancels ?? null,
    },
  };
}
