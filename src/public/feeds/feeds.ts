import type { PublicSite } from '../site.js';
import { rendered, type Rendered } from '../http-cache.js';
import type { FeedFormat, FeedScope } from '../urls.js';
import { atomFeed } from './atom.js';
import { rssFeed } from './rss.js';
import { jsonFeed } from './json-feed.js';
import { feedDoc, feedItem } from './feed-model.js';

export const FEED_CONTENT_TYPES: Record<FeedFormat, string> = {
  atom: 'application/atom+xml; charset=utf-8',
  rss: 'application/rss+xml; charset=utf-8',
  json: 'application/feed+json; charset=utf-8',
};

/** A feed, rendered once per change of the public index. */
export async function feedResponse(site: PublicSite, config: Parameters<typeof feedDoc>[0], scope: FeedScope, format: FeedFormat): Promise<Rendered> {
  const filter = scope.kind === 'country' ? { country: scope.code } : scope.kind === 'level' ? { minLevel: scope.level } : {};
  const { snapshot, entries } = await site.entries(filter);
  const key = `feed:${scope.kind}:${scope.kind === 'country' ? scope.code : scope.kind === 'level' ? scope.level : ''}:${format}`;
  return site.cache.get(key, snapshot.generation, async () => {
    const shown = entries.slice(0, config.public.feedSize);
    const items = [];
    for (const entry of shown) {
      const version = await site.version(entry.id, entry.version);
      if (version) items.push(feedItem(config, site.urls, site.renderer, entry, version));
    }
    const newest = shown.reduce((max, e) => Math.max(max, Date.parse(e.updatedAt)), 0);
    const updated = new Date(newest || snapshot.lastModified.getTime());
    const doc = feedDoc(config, site.urls, scope, items, updated);
    const body = format === 'atom' ? atomFeed(doc) : format === 'rss' ? rssFeed(doc) : jsonFeed(doc);
    return rendered(body, FEED_CONTENT_TYPES[format], updated);
  });
}
