import type { FeedDoc } from './feed-model.js';
import { cleanAttributes, serialise, textElement, xmlDocument } from '../xml.js';

// Atom 1.0 (RFC 4287). Entries keep their id across versions; a correction or retraction changes
// the title prefix, a status category and <updated>.

const ATOM = 'http://www.w3.org/2005/Atom';

export function atomFeed(doc: FeedDoc): string {
  const feed = xmlDocument().ele(ATOM, 'feed', { 'xml:lang': doc.language });
  textElement(feed, 'id', doc.id);
  textElement(feed, 'title', doc.title);
  textElement(feed, 'subtitle', doc.description);
  textElement(feed, 'updated', doc.updated);
  feed.ele('link', { rel: 'self', type: 'application/atom+xml', href: doc.selfUrl('atom') });
  feed.ele('link', { rel: 'alternate', type: 'text/html', href: doc.homeUrl });
  feed.ele('link', { rel: 'alternate', type: 'application/rss+xml', href: doc.selfUrl('rss') });
  feed.ele('link', { rel: 'alternate', type: 'application/feed+json', href: doc.selfUrl('json') });
  const author = feed.ele('author');
  textElement(author, 'name', doc.author.name);
  if (doc.author.url) textElement(author, 'uri', doc.author.url);
  textElement(feed, 'generator', 'Tocsin');
  if (doc.icon) textElement(feed, 'logo', doc.icon);
  for (const item of doc.items) {
    const entry = feed.ele('entry', { 'xml:lang': item.language });
    textElement(entry, 'id', item.id);
    textElement(entry, 'title', item.title, { type: 'text' });
    entry.ele('link', cleanAttributes({ rel: 'alternate', type: 'text/html', href: item.url }));
    if (item.externalUrl) entry.ele('link', cleanAttributes({ rel: 'via', type: 'text/html', href: item.externalUrl }));
    entry.ele('link', cleanAttributes({ rel: 'related', type: 'application/cap+xml', href: item.capUrl, title: 'CAP 1.2 message' }));
    for (const att of item.attachments) {
      entry.ele('link', cleanAttributes({ rel: 'enclosure', type: att.type, href: att.url, title: att.title, length: att.length }));
    }
    textElement(entry, 'published', item.published);
    textElement(entry, 'updated', item.updated);
    for (const c of item.categories) entry.ele('category', cleanAttributes({ term: c.term, label: c.label, scheme: c.scheme }));
    textElement(entry, 'summary', item.summary, { type: 'text' });
    textElement(entry, 'content', item.contentHtml, { type: 'html' });
  }
  return serialise(feed);
}
