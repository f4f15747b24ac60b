import type { FeedDoc } from './feed-model.js';
import { cleanAttributes, serialise, textElement, xmlDocument } from '../xml.js';

// RSS 2.0. An item has one <enclosure> (readers take only one): the first document (the PDF), or
// the image when there is none. Every attachment, the image included, is also a Media RSS
// <media:content>. Full HTML goes in <content:encoded>; <atom:updated> carries each item's
// updated time, which RSS itself has no element for.

const NS = {
  atom: 'http://www.w3.org/2005/Atom',
  content: 'http://purl.org/rss/1.0/modules/content/',
  media: 'http://search.yahoo.com/mrss/',
};

const rfc822 = (iso: string): string => new Date(iso).toUTCString();

export function rssFeed(doc: FeedDoc): string {
  const rss = xmlDocument().ele('rss', { version: '2.0', 'xmlns:atom': NS.atom, 'xmlns:content': NS.content, 'xmlns:media': NS.media });
  const channel = rss.ele('channel');
  textElement(channel, 'title', doc.title);
  textElement(channel, 'link', doc.homeUrl);
  textElement(channel, 'description', doc.description);
  textElement(channel, 'language', doc.language);
  textElement(channel, 'lastBuildDate', rfc822(doc.updated));
  textElement(channel, 'generator', 'Tocsin');
  textElement(channel, 'docs', 'https://www.rssboard.org/rss-specification');
  channel.ele(NS.atom, 'atom:link', { rel: 'self', type: 'application/rss+xml', href: doc.selfUrl('rss') });
  if (doc.icon) {
    const image = channel.ele('image');
    textElement(image, 'url', doc.icon);
    textElement(image, 'title', doc.title);
    textElement(image, 'link', doc.homeUrl);
  }
  for (const item of doc.items) {
    const el = channel.ele('item');
    textElement(el, 'title', item.title);
    textElement(el, 'link', item.url);
    textElement(el, 'guid', item.id, { isPermaLink: 'false' });
    textElement(el, 'pubDate', rfc822(item.published));
    el.ele(NS.atom, 'atom:updated').txt(item.updated);
    textElement(el, 'description', item.summary);
    el.ele(NS.content, 'content:encoded').txt(item.contentHtml);
    for (const c of item.categories) textElement(el, 'category', c.label, { domain: c.scheme });
    const enclosure = item.attachments.find((a) => !a.isImage) ?? item.attachments[0];
    if (enclosure) el.ele('enclosure', cleanAttributes({ url: enclosure.url, type: enclosure.type, length: enclosure.length ?? 0 }));
    for (const att of item.attachments) {
      const media = el.ele(
        NS.media,
        'media:content',
        cleanAttributes({ url: att.url, type: att.type, fileSize: att.length, medium: att.isImage ? 'image' : 'document' }),
      );
      textElement(media, 'media:title', att.title);
      if (att.isImage && item.image) textElement(media, 'media:description', item.image.alt);
    }
  }
  return serialise(rss);
}
