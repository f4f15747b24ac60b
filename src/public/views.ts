import type { Config } from '../config/schema.js';
import { LEVELS, type Level } from '../domain/alert.js';
import { countryName } from '../domain/countries.js';
import { alertLink } from '../domain/alert-link.js';
import { MIN_LEVELS } from '../domain/subscriber.js';
import { markdownToHtml } from '../render/markdown.js';
import { HONEYPOT } from '../subscriptions/input.js';
import { LEVEL_CHOICES } from '../subscriptions/views.js';
import type { AlertVersion, PublicEntry } from '../store/versions.js';
import type { Snapshot } from './snapshot.js';
import { clean, cleanDeep, dateForPeople, describeAttachment, jsonForHtml, levelName } from './text.js';
import { FEED_FORMATS, FEED_TYPES, type FeedScope, type PublicUrls } from './urls.js';
import type { HeadData } from './page-renderer.js';

// View models: what each template shows, built from the public index and the stored versions.
// Every string from an alert is cleaned of control characters here and escaped by the templates.

export const levelKey = (level: Level | null): string => level ?? 'report';

export function countriesOf(codes: string[]): Array<{ code: string; name: string }> {
  return codes.map((code) => ({ code, name: countryName(code) }));
}

const STATUS_LABELS = { published: '', corrected: 'Corrected', retracted: 'Retracted' } as const;

export function card(entry: PublicEntry, urls: PublicUrls) {
  const e = cleanDeep(entry);
  return {
    id: e.id,
    levelKey: levelKey(e.level),
    levelName: levelName(e.level),
    statusLabel: STATUS_LABELS[e.status],
    countries: countriesOf(e.countries),
    title: e.title,
    href: urls.local(urls.alert(e.slug)),
    issuedAt: e.issuedAt,
    issuedHuman: dateForPeople(e.issuedAt),
    summary: e.summary,
  };
}

export function subscribeBox(config: Config, heading: string, countries: string[] = []) {
  return {
    heading,
    countries: countriesOf(countries),
    levels: MIN_LEVELS.map((value) => ({ value, label: LEVEL_CHOICES[value].label, selected: value === 'all' })),
    language: config.subscriptions.languages[0],
    honeypot: HONEYPOT,
  };
}

export function feedAlternates(urls: PublicUrls, scope: FeedScope, label: string): HeadData['alternates'] {
  return FEED_FORMATS.map((f) => ({ type: FEED_TYPES[f].type, title: `${label} (${FEED_TYPES[f].name})`, href: urls.feed(scope, f) }));
}

export function feedLinks(urls: PublicUrls, scope: FeedScope) {
  return { atom: urls.local(urls.feed(scope, 'atom')), rss: urls.local(urls.feed(scope, 'rss')), json: urls.local(urls.feed(scope, 'json')) };
}

function organisationLd(config: Config) {
  const org = config.organisation;
  return {
    '@type': 'Organization',
    name: org.name,
    ...(org.website ? { url: org.website } : {}),
    ...(org.logoUrl ? { logo: { '@type': 'ImageObject', url: org.logoUrl } } : {}),
    ...(config.public.follow.length ? { sameAs: config.public.follow.map((f) => f.url) } : {}),
  };
}

export function siteJsonLd(config: Config, urls: PublicUrls, kind: 'WebSite' | 'CollectionPage', name: string, url: string): string {
  return jsonForHtml({
    '@context': 'https://schema.org',
    '@type': kind,
    name: clean(name),
    url,
    ...(kind === 'WebSite' ? { publisher: organisationLd(config) } : { isPartOf: { '@type': 'WebSite', url: urls.home() } }),
  });
}

function shareLinks(url: string, title: string, summary: string) {
  const e = encodeURIComponent;
  return [
    { name: 'Email', href: `mailto:?subject=${e(title)}&body=${e(`${summary}\n\n${url}`)}` },
    { name: 'X', href: `https://x.com/intent/post?text=${e(title)}&url=${e(url)}` },
    { name: 'Facebook', href: `https://www.facebook.com/sharer/sharer.php?u=${e(url)}` },
    { name: 'Bluesky', href: `https://bsky.app/intent/compose?text=${e(`${title} ${url}`)}` },
    { name: 'LinkedIn', href: `https://www.linkedin.com/sharing/share-offsite/?url=${e(url)}` },
    { name: 'Telegram', href: `https://t.me/share/url?url=${e(url)}&text=${e(title)}` },
    { name: 'WhatsApp', href: `https://wa.me/?text=${e(`${title} ${url}`)}` },
  ];
}

/** The alert page for one version (the latest unless an earlier one is asked for). */
export function alertPageView(config: Config, urls: PublicUrls, snapshot: Snapshot, entry: PublicEntry, shown: AlertVersion) {
  const a = cleanDeep(shown.alert);
  const e = cleanDeep(entry);
  const isLatest = shown.version === e.version;
  const pageUrl = isLatest ? urls.alert(e.slug) : urls.alertVersion(e.slug, shown.version);
  // With a canonicalUrl the organisation's own page is the one search engines and previews use.
  const canonical = isLatest ? alertLink({ slug: e.slug, canonicalUrl: a.canonicalUrl }, config) : pageUrl;
  const retraction = isLatest && e.status === 'retracted' ? e.history[e.history.length - 1] : undefined;
  const lastCorrection = isLatest ? [...e.history].reverse().find((h) => h.kind === 'correction') : undefined;

  const relations: Array<{ label: string; href: string; title: string }> = [];
  const link = (id: string | undefined, label: string) => {
    const other = id ? snapshot.byId.get(id) : undefined;
    if (other) relations.push({ label, href: urls.local(urls.alert(other.slug)), title: clean(other.title) });
  };
  link(a.updates, 'This alert updates');
  link(a.cancels, 'This alert cancels');
  for (const other of snapshot.referencedBy.get(e.id) ?? []) {
    relations.push({ label: other.cancels === e.id ? 'Cancelled by' : 'Updated by', href: urls.local(urls.alert(other.slug)), title: clean(other.title) });
  }

  const moreLinks = [
    ...(a.canonicalUrl ? [{ href: a.canonicalUrl, label: `This alert on ${config.organisation.name}'s website` }] : []),
    ...a.countries
      .filter((c) => config.public.countryReports[c])
      .map((c) => ({ href: config.public.countryReports[c], label: `Our country report on ${countryName(c)}` })),
  ];

  const content = {
    levelKey: levelKey(a.level),
    levelName: levelName(a.level),
    countries: countriesOf(a.countries),
    region: a.region,
    title: a.title,
    issued: { iso: a.issuedAt, human: dateForPeople(a.issuedAt) },
    updated: e.version > 1 && isLatest ? { iso: e.updatedAt, human: dateForPeople(e.updatedAt) } : undefined,
    retracted: retraction ? { at: retraction.at, human: dateForPeople(retraction.at), reason: retraction.reason ?? '' } : undefined,
    corrected: !retraction && lastCorrection ? { at: lastCorrection.at, human: dateForPeople(lastCorrection.at), note: lastCorrection.note ?? '' } : undefined,
    oldVersion: isLatest
      ? undefined
      : { number: shown.version, of: e.version, at: shown.at, human: dateForPeople(shown.at), currentHref: urls.local(urls.alert(e.slug)) },
    relations,
    summary: a.summary,
    image: a.image ? { ...a.image, hasCaption: Boolean(a.image.caption || a.image.credit) } : undefined,
    bodyHtml: markdownToHtml(a.body),
    stages: a.stages,
    recommendations: a.recommendations,
    attachments: a.attachments.map((att) => ({ ...att, described: describeAttachment(att.mediaType, att.bytes) })),
    moreLinks,
    versions:
      e.history.length > 1
        ? e.history.map((h) => ({
            label: h.kind === 'original' ? `Version ${h.version} (original)` : `Version ${h.version} (${h.kind})`,
            href: urls.local(h.version === e.version ? urls.alert(e.slug) : urls.alertVersion(e.slug, h.version)),
            current: h.version === shown.version,
            at: h.at,
            human: dateForPeople(h.at),
            detail: h.note ?? h.reason ?? '',
          }))
        : [],
    share: shareLinks(alertLink({ slug: e.slug, canonicalUrl: a.canonicalUrl }, config), a.title, a.summary),
    capHref: urls.local(isLatest ? urls.cap(e.slug) : urls.capVersion(e.slug, shown.version)),
    ...(shown.signature
      ? {
          signedHref: urls.local(urls.signedJson(e.slug, isLatest ? undefined : shown.version)),
          signatureHref: urls.local(urls.signature(e.slug, isLatest ? undefined : shown.version)),
          verifyHref: `${urls.local(urls.verify())}?url=${encodeURIComponent(isLatest ? urls.alert(e.slug) : urls.alertVersion(e.slug, shown.version))}`,
        }
      : {}),
    feeds: feedLinks(urls, { kind: 'all' }),
    subscribe: subscribeBox(config, `Get alerts about ${a.countries.map((c) => countryName(c)).join(', ')} by email`, a.countries),
  };

  const statusPrefix = retraction ? 'Retracted: ' : '';
  const head: HeadData = {
    description: statusPrefix + a.summary.replace(/\s+/g, ' ').slice(0, 300),
    canonical,
    ogTitle: statusPrefix + a.title,
    ogType: 'article',
    ...(a.image ? { image: { url: a.image.url, alt: a.image.alt } } : {}),
    alternates: [
      ...feedAlternates(urls, { kind: 'all' }, `${config.organisation.name} alerts`),
      ...a.countries.map((code) => ({
        type: FEED_TYPES.atom.type,
        title: `Alerts about ${countryName(code)} (Atom)`,
        href: urls.feed({ kind: 'country', code }, 'atom'),
      })),
      { type: 'application/cap+xml', title: 'This alert as a CAP 1.2 message', href: isLatest ? urls.cap(e.slug) : urls.capVersion(e.slug, shown.version) },
      ...(shown.signature
        ? [
            {
              type: 'application/json',
              title: 'This version, as the signed canonical JSON',
              href: urls.signedJson(e.slug, isLatest ? undefined : shown.version),
            },
            { type: 'application/json', title: 'Its Ed25519 signature', href: urls.signature(e.slug, isLatest ? undefined : shown.version) },
          ]
        : []),
    ],
    published: a.issuedAt,
    modified: isLatest ? e.updatedAt : shown.at,
    jsonLd: jsonForHtml({
      '@context': 'https://schema.org',
      '@type': 'NewsArticle',
      headline: a.title,
      description: a.summary,
      url: canonical,
      mainEntityOfPage: canonical,
      datePublished: a.issuedAt,
      dateModified: isLatest ? e.updatedAt : shown.at,
      inLanguage: a.language,
      ...(a.image ? { image: [a.image.url] } : {}),
      author: organisationLd(config),
      publisher: organisationLd(config),
      contentLocation: a.countries.map((code) => ({ '@type': 'Country', name: countryName(code), identifier: code })),
      keywords: [levelName(a.level), ...a.stages.map((s) => s.name)].join(', '),
      ...(retraction ? { creativeWorkStatus: 'Retracted' } : {}),
      ...(lastCorrection ? { correction: { '@type': 'CorrectionComment', text: lastCorrection.note, datePublished: lastCorrection.at } } : {}),
    }),
  };
  return { content, head, title: a.title, lang: a.language };
}

/** Archive filter choices: only values that some public alert has. */
export function filterChoices(entries: PublicEntry[], selected: { country?: string; level?: string; year?: number }) {
  const codes = [...new Set(entries.flatMap((e) => e.countries))];
  const years = [...new Set(entries.map((e) => new Date(e.issuedAt).getUTCFullYear()))].sort((a, b) => b - a);
  return {
    countries: countriesOf(codes)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((c) => ({ ...c, selected: c.code === selected.country })),
    levels: [...[...LEVELS].reverse(), 'report' as const].map((value) => ({
      value,
      label: levelName(value === 'report' ? null : value),
      selected: value === selected.level,
    })),
    years: years.map((value) => ({ value, selected: value === selected.year })),
  };
}
