import type { Config } from '../../config/schema.js';
import { countryName } from '../../domain/countries.js';
import { alertLink } from '../../domain/alert-link.js';
import { markdownToHtml } from '../../render/markdown.js';
import type { AlertVersion, PublicEntry } from '../../store/versions.js';
import type { PageRenderer } from '../page-renderer.js';
import { cleanDeep, dateForPeople, describeAttachment, levelName, ulidToUuid } from '../text.js';
import type { FeedFormat, FeedScope, PublicUrls } from '../urls.js';
import { levelKey } from '../views.js';

// One model of a feed, written out as Atom, RSS or JSON Feed by the files beside this one.

export interface FeedCategory {
  term: string;
  label: string;
  scheme: string;
}

export interface FeedAttachment {
  url: string;
  type: string;
  length?: number;
  title: string;
  isImage: boolean;
}

export interface FeedItem {
  /** urn:uuid form of the alert's ULID: the same for every version, forever. */
  id: string;
  title: string;
  /** The page on this site. */
  url: string;
  /** The organisation's own page, when the alert has one. */
  externalUrl?: string;
  summary: string;
  contentHtml: string;
  published: string;
  updated: string;
  status: PublicEntry['status'];
  version: number;
  level: string;
  countries: string[];
  categories: FeedCategory[];
  image?: { url: string; alt: string; type: string };
  attachments: FeedAttachment[];
  capUrl: string;
  language: string;
}

export interface FeedDoc {
  id: string;
  title: string;
  description: string;
  homeUrl: string;
  selfUrl: (format: FeedFormat) => string;
  updated: string;
  language: string;
  author: { name: string; url?: string };
  icon?: string;
  items: FeedItem[];
}

const IMAGE_TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
};

/** The image's type from its file name; feed readers need one and the alert does not record it. */
export function imageType(url: string): string {
  const ext = /\.([a-z0-9]+)(?:$|[?#])/i.exec(new URL(url).pathname)?.[1]?.toLowerCase();
  return (ext && IMAGE_TYPES[ext]) || 'application/octet-stream';
}

const STATUS_PREFIX = { published: '', corrected: 'Corrected: ', retracted: 'Retracted: ' } as const;

export function feedItem(config: Config, urls: PublicUrls, renderer: PageRenderer, entry: PublicEntry, version: AlertVersion): FeedItem {
  const a = cleanDeep(version.alert);
  const e = cleanDeep(entry);
  const pageUrl = urls.alert(e.slug);
  const retraction = e.status === 'retracted' ? e.history[e.history.length - 1] : undefined;
  const correction = !retraction ? [...e.history].reverse().find((h) => h.kind === 'correction') : undefined;
  const levels = `${urls.base}/feeds/levels`;
  const countriesScheme = `${urls.base}/countries`;
  const image = a.image ? { url: a.image.url, alt: a.image.alt, type: imageType(a.image.url) } : undefined;
  const contentHtml = renderer.fragment('feed-content', {
    retracted: retraction ? { human: dateForPeople(retraction.at), reason: retraction.reason } : undefined,
    corrected: correction ? { human: dateForPeople(correction.at), note: correction.note } : undefined,
    levelName: levelName(a.level),
    countryNames: a.countries.map((c) => countryName(c)).join(', '),
    region: a.region,
    issued: { human: dateForPeople(a.issuedAt) },
    summary: a.summary,
    image: a.image ? { ...a.image, hasCaption: Boolean(a.image.caption || a.image.credit) } : undefined,
    bodyHtml: markdownToHtml(a.body),
    stages: a.stages,
    recommendations: a.recommendations,
    attachments: a.attachments.map((att) => ({ ...att, described: describeAttachment(att.mediaType, att.bytes) })),
    pageUrl: alertLink({ slug: e.slug, canonicalUrl: a.canonicalUrl }, config),
  });
  return {
    id: `urn:uuid:${ulidToUuid(e.id)}`,
    title: STATUS_PREFIX[e.status] + a.title,
    url: pageUrl,
    ...(a.canonicalUrl ? { externalUrl: a.canonicalUrl } : {}),
    summary: a.summary,
    contentHtml,
    published: a.issuedAt,
    updated: e.updatedAt,
    status: e.status,
    version: e.version,
    level: levelKey(a.level),
    countries: a.countries,
    categories: [
      { term: levelKey(a.level), label: levelName(a.level), scheme: levels },
      ...a.countries.map((code) => ({ term: code, label: countryName(code), scheme: countriesScheme })),
      ...(e.status !== 'published' ? [{ term: e.status, label: e.status === 'corrected' ? 'Corrected' : 'Retracted', scheme: `${urls.base}/alerts` }] : []),
    ],
    ...(image ? { image } : {}),
    attachments: [
      ...(image ? [{ url: image.url, type: image.type, title: image.alt, isImage: true }] : []),
      ...a.attachments.map((att) => ({
        url: att.url,
        type: att.mediaType ?? 'application/octet-stream',
        ...(att.bytes !== undefined ? { length: att.bytes } : {}),
        title: att.title,
        isImage: false,
      })),
    ],
    capUrl: urls.cap(e.slug),
    language: a.language,
  };
}

export function feedTitle(config: Config, scope: FeedScope): string {
  const name = config.organisation.name;
  if (scope.kind === 'country') return `${name}: alerts about ${countryName(scope.code)}`;
  if (scope.kind === 'level') return `${name}: ${levelName(scope.level)} and above`;
  return `${name} alerts`;
}

export function feedDoc(config: Config, urls: PublicUrls, scope: FeedScope, items: FeedItem[], updated: Date): FeedDoc {
  const title = feedTitle(config, scope);
  return {
    // The feed's address without its format: one id for the Atom, RSS and JSON forms.
    id: urls.feed(scope, 'atom').replace(/\.atom$/, ''),
    title,
    description: `${title}: warnings of genocide and mass atrocities, newest first.`,
    homeUrl: scope.kind === 'country' ? urls.country(scope.code) : urls.home(),
    selfUrl: (format) => urls.feed(scope, format),
    updated: updated.toISOString(),
    language: config.subscriptions.languages[0],
    author: { name: config.organisation.name, ...(config.organisation.website ? { url: config.organisation.website } : {}) },
    ...(config.organisation.logoUrl ? { icon: config.organisation.logoUrl } : {}),
    items,
  };
}
