import type { Config } from '../config/schema.js';
import type { Level } from '../domain/alert.js';
import { alertPageUrl } from '../domain/alert-link.js';

// Every public address in one place, absolute (feeds, CAP and link previews need absolute URLs).

export type FeedFormat = 'atom' | 'rss' | 'json';
export const FEED_FORMATS: readonly FeedFormat[] = ['atom', 'rss', 'json'];
export const FEED_TYPES: Record<FeedFormat, { type: string; name: string }> = {
  atom: { type: 'application/atom+xml', name: 'Atom' },
  rss: { type: 'application/rss+xml', name: 'RSS' },
  json: { type: 'application/feed+json', name: 'JSON Feed' },
};

export type FeedScope = { kind: 'all' } | { kind: 'country'; code: string } | { kind: 'level'; level: Level };

export class PublicUrls {
  readonly base: string;

  constructor(config: Config) {
    this.base = config.http.publicUrl.replace(/\/+$/, '');
  }

  home = (): string => `${this.base}/`;
  archive = (): string => `${this.base}/alerts`;
  alert = (slug: string): string => alertPageUrl(this.base, slug);
  alertVersion = (slug: string, n: number): string => `${this.alert(slug)}/v/${n}`;
  country = (code: string): string => `${this.base}/countries/${code}`;
  cap = (slug: string): string => `${this.base}/cap/${encodeURIComponent(slug)}.xml`;
  capVersion = (slug: string, n: number): string => `${this.base}/cap/${encodeURIComponent(slug)}/v${n}.xml`;
  /** A version's signed canonical JSON and its detached signature (README "Signatures and verification"). */
  signedJson = (slug: string, n?: number): string => `${n ? this.alertVersion(slug, n) : this.alert(slug)}.json`;
  signature = (slug: string, n?: number): string => `${n ? this.alertVersion(slug, n) : this.alert(slug)}.sig`;
  jwks = (): string => `${this.base}/.well-known/jwks.json`;
  verify = (): string => `${this.base}/verify`;
  capIndex = (): string => `${this.base}/cap/index.atom`;
  sitemap = (): string => `${this.base}/sitemap.xml`;

  feed(scope: FeedScope, format: FeedFormat): string {
    const ext = format === 'atom' ? 'atom' : format === 'rss' ? 'rss' : 'json';
    if (scope.kind === 'country') return `${this.base}/feeds/countries/${scope.code}.${ext}`;
    if (scope.kind === 'level') return `${this.base}/feeds/levels/${scope.level}.${ext}`;
    return `${this.base}/feeds/alerts.${ext}`;
  }

  /** Site-relative form of an absolute URL of this site (links inside pages). */
  local(url: string): string {
    return url.startsWith(this.base) ? url.slice(this.base.length) || '/' : url;
  }
}
