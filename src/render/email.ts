import { LEVEL_NAMES, type Alert } from '../domain/alert.js';
import { countryName } from '../domain/countries.js';
import type { Config } from '../config/schema.js';
import { markdownToHtml, markdownToText } from './markdown.js';
import { emailTemplate, mjmlToHtml } from './email-templates.js';
import { alertLink } from '../domain/alert-link.js';

// Rendered once per alert. Personal links are left as markers that the sender fills per recipient.
export const PERSONAL = {
  unsubscribeUrl: '%%TOCSIN_UNSUBSCRIBE_URL%%',
  preferencesUrl: '%%TOCSIN_PREFERENCES_URL%%',
} as const;

/** What a follow-up email leads with (a correction or a retraction of an alert already sent). */
export interface EmailNotice {
  kind: 'correction' | 'retraction';
  /** When the new version was made (ISO). */
  at: string;
  /** What changed, or why it was retracted. */
  note: string;
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
  language: string;
}

const longDate = (iso: string, language: string) =>
  new Date(iso).toLocaleDateString(language, { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' });

export function emailTemplateData(alert: Alert, config: Config, personal: { unsubscribeUrl: string; preferencesUrl: string } = PERSONAL, notice?: EmailNotice) {
  const org = config.organisation;
  return {
    ...(notice
      ? {
          notice: {
            heading: `${notice.kind === 'correction' ? 'Correction' : 'Retraction'}, ${longDate(notice.at, alert.language)}`,
            text:
              notice.kind === 'correction'
                ? `What changed: ${notice.note} The corrected alert follows.`
                : `${org.name} has retracted this alert: ${notice.note} Please do not act on it or pass it on.`,
          },
          retraction: notice.kind === 'retraction',
        }
      : {}),
    alert,
    org,
    level: alert.level,
    levelLabel: alert.level ? LEVEL_NAMES[alert.level] : '',
    levelColour: alert.level ? org.colours[alert.level] : org.colours.primary,
    countryNames: alert.countries.map((c) => countryName(c, alert.language)).join(', '),
    issuedDate: new Date(alert.issuedAt ?? alert.createdAt).toLocaleDateString(alert.language, {
      year: 'numeric',
      month: 'long',
      day: 'numeric',
      timeZone: 'UTC',
    }),
    // The page is the link: the organisation's page, or this alert's page on Tocsin's public site.
    link: alertLink(alert, config),
    linkIsCanonical: Boolean(alert.canonicalUrl),
    bodyHtml: markdownToHtml(alert.body),
    bodyText: markdownToText(alert.body),
    ...personal,
  };
}

/**
 * Renders an alert's email (HTML through MJML, and plain text) with personal links as markers.
 * With a notice it is a follow-up: "Correction: …" leads with what changed, then the corrected
 * alert; "Retraction: …" says why, with the title and summary only.
 */
export async function renderAlertEmail(alert: Alert, config: Config, notice?: EmailNotice): Promise<RenderedEmail> {
  const data = emailTemplateData(alert, config, PERSONAL, notice);
  const html = await mjmlToHtml(emailTemplate('alert.mjml.hbs')(data), 'alert email');
  const text = emailTemplate('alert.txt.hbs')(data).replace(/\n{3,}/g, '\n\n');
  const prefix = notice ? `${notice.kind === 'correction' ? 'Correction' : 'Retraction'}: ` : '';
  return { subject: `${prefix}${alert.title}`, html, text, language: alert.language };
}

/** Fills the personal markers; used by preview and by the sender's MIME template alike. */
export function personalise(body: string, links: { unsubscribeUrl: string; preferencesUrl: string }): string {
  return body.split(PERSONAL.unsubscribeUrl).join(links.unsubscribeUrl).split(PERSONAL.preferencesUrl).join(links.preferencesUrl);
}
