import type { FeedDoc } from './feed-model.js';

// JSON Feed 1.1 (jsonfeed.org/version/1.1). Status and version go in the `_tocsin` extension
// object, which the specification allows for publisher-specific fields.

export function jsonFeed(doc: FeedDoc): string {
  return JSON.stringify(
    {
      version: 'https://jsonfeed.org/version/1.1',
      title: doc.title,
      home_page_url: doc.homeUrl,
      feed_url: doc.selfUrl('json'),
      description: doc.description,
      ...(doc.icon ? { icon: doc.icon } : {}),
      authors: [doc.author],
      language: doc.language,
      items: doc.items.map((item) => ({
        id: item.id,
        url: item.url,
        ...(item.externalUrl ? { external_url: item.externalUrl } : {}),
        title: item.title,
        content_html: item.contentHtml,
        summary: item.summary,
        ...(item.image ? { image: item.image.url } : {}),
        date_published: item.published,
        date_modified: item.updated,
        authors: [doc.author],
        tags: item.categories.map((c) => c.label),
        language: item.language,
        attachments: item.attachments.map((a) => ({
          url: a.url,
          mime_type: a.type,
          title: a.title,
          ...(a.length !== undefined ? { size_in_bytes: a.length } : {}),
        })),
        _tocsin: { status: item.status, version: item.version, level: item.level, countries: item.countries, cap: item.capUrl },
      })),
    },
    null,
    2,
  );
}
