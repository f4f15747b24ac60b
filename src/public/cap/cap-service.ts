import type { Config } from '../../config/schema.js';
import type { PublicEntry } from '../../store/versions.js';
import { rendered, type Rendered } from '../http-cache.js';
import type { PublicSite } from '../site.js';
import { clean } from '../text.js';
import { cleanAttributes, serialise, textElement, xmlDocument } from '../xml.js';
import { capDate, capIdentifier, capMessage, capPageUrl, capRef, capSender, unsigned, type CapMessageRef, type CapSigner } from './cap-message.js';

export const CAP_CONTENT_TYPE = 'application/cap+xml; charset=utf-8';

/**
 * The message an alert that updates or cancels another refers to: the other alert's latest version
 * at the time, so a message never changes once it exists.
 */
function relatedMessage(config: Config, site: PublicSite, entry: PublicEntry, at: string, byId: Map<string, PublicEntry>): CapMessageRef | undefined {
  const targetId = entry.cancels ?? entry.updates;
  const target = targetId ? byId.get(targetId) : undefined;
  const earlier = target?.history.filter((h) => Date.parse(h.at) <= Date.parse(at)).pop();
  return target && earlier ? capRef(config, target.id, earlier) : undefined;
}

/** The CAP message of one version (the latest when `n` is not given); undefined if there is none. */
export async function capResponse(
  site: PublicSite,
  config: Config,
  slug: string,
  n: number | undefined,
  sign: CapSigner = unsigned,
): Promise<Rendered | undefined> {
  const snapshot = await site.snapshots.get();
  const entry = snapshot.bySlug.get(slug);
  const number = n ?? entry?.version;
  if (!entry || !number || number < 1 || number > entry.version) return undefined;
  // Messages are immutable: once rendered, a version's message is kept as it is.
  return site.cache.get(`cap:${entry.id}:${number}`, 'immutable', async () => {
    const version = await site.version(entry.id, number);
    if (!version) return site.notFound();
    const previous = number > 1 ? ((await site.version(entry.id, number - 1)) ?? undefined) : undefined;
    const related = number === 1 ? relatedMessage(config, site, entry, version.at, snapshot.byId) : undefined;
    const xml = capMessage(config, version, { previous, relatedMessage: related, pageUrl: capPageUrl(config, version.alert) }, sign);
    return rendered(xml, CAP_CONTENT_TYPE, new Date(version.at));
  });
}

/** An Atom index of the newest CAP message of each published alert: what CAP aggregators poll. */
export async function capIndexResponse(site: PublicSite, config: Config): Promise<Rendered> {
  const { snapshot, entries } = await site.entries();
  return site.cache.get('cap-index', snapshot.generation, () => {
    const shown = [...entries].sort((a, b) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt)).slice(0, config.public.feedSize);
    const updated = new Date(shown.reduce((max, e) => Math.max(max, Date.parse(e.updatedAt)), 0) || snapshot.lastModified.getTime());
    const feed = xmlDocument().ele('http://www.w3.org/2005/Atom', 'feed');
    textElement(feed, 'id', site.urls.capIndex());
    textElement(feed, 'title', `${config.organisation.name}: CAP 1.2 alerts`);
    textElement(feed, 'updated', updated.toISOString());
    feed.ele('link', { rel: 'self', type: 'application/atom+xml', href: site.urls.capIndex() });
    feed.ele('link', { rel: 'alternate', type: 'text/html', href: site.urls.home() });
    const author = feed.ele('author');
    textElement(author, 'name', capSender(config));
    for (const e of shown) {
      const url = site.urls.capVersion(e.slug, e.version);
      const entry = feed.ele('entry');
      // Each message is its own entry: an Update or Cancel appears as new, as aggregators expect.
      textElement(entry, 'id', `${site.urls.base}/cap/${encodeURIComponent(e.slug)}/v${e.version}`);
      const prefix = e.status === 'corrected' ? 'Update: ' : e.status === 'retracted' ? 'Cancel: ' : '';
      textElement(entry, 'title', prefix + clean(e.title));
      entry.ele('link', cleanAttributes({ rel: 'alternate', type: 'application/cap+xml', href: url }));
      entry.ele('link', cleanAttributes({ rel: 'related', type: 'text/html', href: site.urls.alert(e.slug) }));
      textElement(entry, 'updated', e.updatedAt);
      textElement(entry, 'published', capDate(e.updatedAt));
      textElement(entry, 'summary', `${capIdentifier(config, e.id, e.version)}: ${clean(e.summary)}`);
      entry.ele('category', { term: config.public.cap.levels[e.level ?? 'report'].event });
    }
    return rendered(serialise(feed), 'application/atom+xml; charset=utf-8', updated);
  });
}
