import { LEVEL_NAMES, type Alert } from '../domain/alert.js';
import { countryName } from '../domain/countries.js';
import type { Config } from '../config/schema.js';
import { markdownToHtml, markdownToText } from './markdown.js';
import { emailTemplate, mjmlToHtml } from './email-templates.js';

// Rendered once per alert. Personal links are left as markers that the sender fills per recipient.
export const PERSONAL = {
  unsubscribeUrl: '%%TOCSIN_UNSUBSCRIBE_URL%%',
  preferencesUrl: '%%TOCSIN_PREFERENCES_URL%%',
} as const;

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
  language: string;
}

export function emailTemplateData(alert: Alert, config: Config, personal: { unsubscribeUrl: string; preferencesUrl: string } = PERSONAL) {
  const org = config.organisation;
  return {
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
    bodyHtml: markdownToHtml(alert.body),
    bodyText: markdownToText(alert.body),
    ...personal,
  };
}

/** Renders an alert's email (HTML through MJML, and plain text) with personal links as markers. */
export async function renderAlertEmail(alert: Alert, config: Config): Promise<RenderedEmail> {
  const data = emailTemplateData(alert, config);
  const html = await mjmlToHtml(emailTemplate('alert.mjml.hbs')(data), 'alert email');
  const text = emailTemplate('alert.txt.hbs')(data).replace(/\n{3,}/g, '\n\n');
  return { subject: alert.title, html, text, language: alert.language };
}

/** Fills the personal markers; used by preview and by the sender's MIME template alike. */
export function personalise(body: string, links: { unsubscribeUrl: string; preferencesUrl: string }): string {
  return body.split(PERSONAL.unsubscribeUrl).join(links.unsubscribeUrl).split(PERSONAL.preferencesUrl).join(links.preferencesUrl);
}
