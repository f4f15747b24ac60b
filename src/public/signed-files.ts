import { rendered, type Rendered } from './http-cache.js';
import type { PublicSite } from './site.js';

// Each published version's signed canonical JSON (the exact bytes signed) and its detached
// signature, next to the alert page: /alerts/<slug>.json and .sig for the current version,
// /alerts/<slug>/v/<n>.json and .sig for each one. Same rule as the pages: only what the public
// index lists. Versions published before signing existed have neither.

export const SIGNED_FILE = /^([a-z0-9]+(?:-[a-z0-9]+)*)\.(json|sig)$/;
export const SIGNED_VERSION_FILE = /^([1-9]\d{0,5})\.(json|sig)$/;

export async function signedFile(site: PublicSite, slug: string, n: number | undefined, ext: 'json' | 'sig'): Promise<Rendered | undefined> {
  const snapshot = await site.snapshots.get();
  const entry = snapshot.bySlug.get(slug);
  const number = n ?? entry?.version;
  if (!entry || !number || number > entry.version) return undefined;
  // A version never changes once published, and neither does its signature.
  const found = await site.cache.get(`signed:${entry.id}:${number}:${ext}`, 'immutable', async () => {
    const version = await site.version(entry.id, number);
    const s = version?.signature;
    if (!version || !s) return site.notFound();
    const at = new Date(version.at);
    if (ext === 'json') return rendered(s.document, 'application/json; charset=utf-8', at);
    const body = JSON.stringify(
      { alg: s.alg, kid: s.kid, sig: s.sig, signed: site.urls.signedJson(slug, number), jwks: site.urls.jwks(), verify: site.urls.verify() },
      null,
      2,
    );
    return rendered(`${body}\n`, 'application/json; charset=utf-8', at);
  });
  return found.status === 200 ? found : undefined;
}
