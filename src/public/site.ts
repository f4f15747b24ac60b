import type { Context } from '../context.js';
import type { Level } from '../domain/alert.js';
import { countryName } from '../domain/countries.js';
import { ResponseCache, rendered, type Rendered } from './http-cache.js';
import { PageRenderer } from './page-renderer.js';
import { SnapshotSource, filterEntries, pageAfter, type ListFilter, type Snapshot } from './snapshot.js';
import { PublicUrls } from './urls.js';
import { alertPageView, card, feedAlternates, feedLinks, filterChoices, siteJsonLd, subscribeBox, levelKey } from './views.js';
import { dateForPeople, levelName } from './text.js';
import type { AlertVersion } from '../store/versions.js';

// The public site: pages rendered from the snapshot of the public index and cached until what they
// show changes. An alert page depends on its own version and the alerts it links with, so
// publishing an unrelated alert does not render it again; lists depend on the whole index.

export const HTML = 'text/html; charset=utf-8';

export class PublicSite {
  readonly urls: PublicUrls;
  readonly renderer: PageRenderer;
  readonly snapshots: SnapshotSource;
  readonly cache: ResponseCache;
  private notFoundPage: Rendered | undefined;
  private readonly versionCache = new Map<string, AlertVersion>();

  constructor(private readonly ctx: Pick<Context, 'config' | 'redis' | 'keys' | 'versions'>) {
    this.urls = new PublicUrls(ctx.config);
    this.renderer = new PageRenderer(ctx.config);
    this.snapshots = new SnapshotSource(ctx);
    this.cache = new ResponseCache(ctx.config.public.cacheEntries);
  }

  /** One 404 for every address that is not a published alert: the same bytes whatever the reason. */
  notFound(): Rendered {
    this.notFoundPage ??= rendered(
      this.renderer.render('not-found', {
        title: 'Not found',
        head: {
          description: 'There is no published alert at this address.',
          canonical: this.urls.home(),
          ogTitle: 'Not found',
          ogType: 'website',
          alternates: feedAlternates(this.urls, { kind: 'all' }, `${this.ctx.config.organisation.name} alerts`),
          jsonLd: siteJsonLd(this.ctx.config, this.urls, 'CollectionPage', 'Not found', this.urls.home()),
        },
        content: {
          heading: 'Not found',
          message: 'There is no published alert at this address. It may have a different address, or it has not been published.',
        },
      }),
      HTML,
      new Date(0),
      { status: 404 },
    );
    return this.notFoundPage;
  }

  async alertPage(slug: string, version?: number): Promise<Rendered> {
    const snapshot = await this.snapshots.get();
    const entry = snapshot.bySlug.get(slug);
    if (!entry || (version !== undefined && (version < 1 || version > entry.version))) return this.notFound();
    const shown = version ?? entry.version;
    // Dependencies: this alert's version, and the alerts it links with (titles and addresses).
    const related = [entry.updates, entry.cancels, ...(snapshot.referencedBy.get(entry.id) ?? []).map((e) => e.id)]
      .filter((id): id is string => Boolean(id))
      .map((id) => `${id}:${snapshot.byId.get(id)?.version ?? 0}`)
      .join(',');
    return this.cache.get(`alert:${entry.id}:${shown}`, `${entry.version}|${related}`, async () => {
      const stored = await this.version(entry.id, shown);
      if (!stored) return this.notFound();
      const view = alertPageView(this.ctx.config, this.urls, snapshot, entry, stored);
      const lastModified = new Date(shown === entry.version ? entry.updatedAt : stored.at);
      return rendered(this.renderer.render('alert', { title: view.title, lang: view.lang, head: view.head, content: view.content }), HTML, lastModified);
    });
  }

  async homePage(): Promise<Rendered> {
    const snapshot = await this.snapshots.get();
    return this.cache.get('home', snapshot.generation, () => {
      const { config } = this.ctx;
      const name = config.organisation.name;
      return rendered(
        this.renderer.render('home', {
          title: 'Latest alerts',
          nav: { home: true },
          head: {
            description: `Alerts of genocide and mass atrocities published by ${name}.`,
            canonical: this.urls.home(),
            ogTitle: `${name} alerts`,
            ogType: 'website',
            alternates: [...feedAlternates(this.urls, { kind: 'all' }, `${name} alerts`), capIndexAlternate(this.urls)],
            jsonLd: siteJsonLd(config, this.urls, 'WebSite', `${name} alerts`, this.urls.home()),
          },
          content: {
            cards: snapshot.entries.slice(0, config.public.homeCount).map((e) => card(e, this.urls)),
            subscribe: subscribeBox(config, `Get ${name} alerts by email`),
          },
        }),
        HTML,
        snapshot.lastModified,
      );
    });
  }

  async archivePage(filter: { country?: string; level?: Level | 'report'; year?: number }, cursor?: string): Promise<Rendered> {
    const snapshot = await this.snapshots.get();
    const key = `archive:${filter.country ?? ''}:${filter.level ?? ''}:${filter.year ?? ''}:${cursor ?? ''}`;
    return this.cache.get(key, snapshot.generation, () => {
      const { config } = this.ctx;
      const matching = filterEntries(snapshot.entries, filter);
      const page = pageAfter(matching, cursor, config.public.pageSize);
      const query = (extra: Record<string, string | undefined>) => {
        const params = new URLSearchParams();
        for (const [k, v] of Object.entries({ country: filter.country, level: filter.level, year: filter.year?.toString(), ...extra })) if (v) params.set(k, v);
        const s = params.toString();
        return `/alerts${s ? `?${s}` : ''}`;
      };
      const described = [
        filter.level ? levelName(filter.level === 'report' ? null : filter.level) : '',
        filter.country ? `about ${countryName(filter.country)}` : '',
        filter.year ? `in ${filter.year}` : '',
      ]
        .filter(Boolean)
        .join(' ');
      const heading = described ? `Alerts: ${described}` : 'All alerts';
      const canonical = `${this.urls.base}${query({ cursor })}`;
      return rendered(
        this.renderer.render('archive', {
          title: heading,
          nav: { archive: true },
          head: {
            description: `${heading}, newest first, from ${config.organisation.name}.`,
            canonical,
            ogTitle: heading,
            ogType: 'website',
            alternates: filter.country
              ? feedAlternates(this.urls, { kind: 'country', code: filter.country }, `Alerts about ${countryName(filter.country)}`)
              : feedAlternates(this.urls, { kind: 'all' }, `${config.organisation.name} alerts`),
            jsonLd: siteJsonLd(config, this.urls, 'CollectionPage', heading, canonical),
          },
          content: {
            heading,
            filters: filterChoices(snapshot.entries, filter),
            countText: `${matching.length} published ${matching.length === 1 ? 'alert' : 'alerts'}${page.items.length < matching.length ? `; showing ${page.items.length}` : ''}.`,
            cards: page.items.map((e) => card(e, this.urls)),
            nextHref: page.next ? query({ cursor: page.next }) : undefined,
            firstHref: cursor ? query({}) : undefined,
          },
        }),
        HTML,
        lastModifiedOf(snapshot, matching),
      );
    });
  }

  async countryPage(code: string, cursor?: string): Promise<Rendered> {
    const snapshot = await this.snapshots.get();
    return this.cache.get(`country:${code}:${cursor ?? ''}`, snapshot.generation, () => {
      const { config } = this.ctx;
      const name = countryName(code);
      const matching = filterEntries(snapshot.entries, { country: code });
      const page = pageAfter(matching, cursor, config.public.pageSize);
      // The current level is the latest alert's that still stands (a retracted one does not count).
      const latest = matching.find((e) => e.status !== 'retracted');
      const scope = { kind: 'country' as const, code };
      const canonical = this.urls.country(code);
      return rendered(
        this.renderer.render('country', {
          title: name,
          head: {
            description: latest
              ? `${name}: ${levelName(latest.level)}. Alerts about ${name} from ${config.organisation.name}.`
              : `Alerts about ${name} from ${config.organisation.name}.`,
            canonical,
            ogTitle: `${name}: alerts from ${config.organisation.name}`,
            ogType: 'website',
            alternates: feedAlternates(this.urls, scope, `Alerts about ${name}`),
            jsonLd: siteJsonLd(config, this.urls, 'CollectionPage', `Alerts about ${name}`, canonical),
          },
          content: {
            countryName: name,
            current: latest ? { ...card(latest, this.urls), levelKey: levelKey(latest.level), issuedHuman: dateForPeople(latest.issuedAt) } : undefined,
            countryReport: config.public.countryReports[code],
            feeds: feedLinks(this.urls, scope),
            cards: page.items.map((e) => card(e, this.urls)),
            nextHref: page.next ? `/countries/${code}?cursor=${page.next}` : undefined,
            firstHref: cursor ? `/countries/${code}` : undefined,
            subscribe: subscribeBox(config, `Get alerts about ${name} by email`, [code]),
          },
        }),
        HTML,
        lastModifiedOf(snapshot, matching),
      );
    });
  }

  /** A stored version, kept in memory: versions never change. */
  async version(alertId: string, n: number) {
    const key = `${alertId}:${n}`;
    const hit = this.versionCache.get(key);
    if (hit) return hit;
    const stored = await this.ctx.versions.get(alertId, n);
    if (stored) {
      this.versionCache.set(key, stored);
      if (this.versionCache.size > this.ctx.config.public.cacheEntries) this.versionCache.delete(this.versionCache.keys().next().value as string);
    }
    return stored;
  }

  /** Entries for a feed or the sitemap. */
  async entries(filter: ListFilter = {}): Promise<{ snapshot: Snapshot; entries: Snapshot['entries'] }> {
    const snapshot = await this.snapshots.get();
    return { snapshot, entries: filterEntries(snapshot.entries, filter) };
  }
}

export function capIndexAlternate(urls: PublicUrls) {
  return { type: 'application/atom+xml', title: 'CAP 1.2 alerts (Atom index)', href: urls.capIndex() };
}

function lastModifiedOf(snapshot: Snapshot, entries: Snapshot['entries']): Date {
  const newest = entries.reduce((max, e) => Math.max(max, Date.parse(e.updatedAt)), 0);
  return new Date(newest || snapshot.lastModified.getTime());
}
