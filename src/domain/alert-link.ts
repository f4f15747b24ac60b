import type { Alert } from './alert.js';

// "The page is the link": every message links to the organisation's own page when the alert has a
// canonicalUrl, and otherwise to Tocsin's public page for it. One rule, used by email, social
// posts, chat formats, webhooks and feeds alike.

/** Tocsin's public page for the alert with this slug. */
export function alertPageUrl(publicUrl: string, slug: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/alerts/${encodeURIComponent(slug)}`;
}

/** Where a message about this alert links: its canonical URL, or else its page on this server. */
export function alertLink(alert: Pick<Alert, 'slug' | 'canonicalUrl'>, config: { http: { publicUrl: string } }): string {
  return alert.canonicalUrl ?? alertPageUrl(config.http.publicUrl, alert.slug);
}

/** An alert with its link resolved, so renderers that have no configuration (social, chat) can read it. */
export type LinkedAlert = Alert & { link: string };

export function withLink(alert: Alert, config: { http: { publicUrl: string } }): LinkedAlert {
  return { ...alert, link: alertLink(alert, config) };
}

/** The link a renderer without configuration uses: the resolved one when withLink() ran, else the canonical URL. */
export function linkOf(alert: Alert): string | undefined {
  return (alert as Partial<LinkedAlert>).link ?? alert.canonicalUrl;
}
