import { readFileSync } from 'node:fs';
import { templatesDir } from '../paths.js';
import Handlebars from 'handlebars';
import mjmlModule from 'mjml';
import type { Alert } from '../domain/alert.js';
import { countryName } from '../domain/countries.js';
import type { Config } from '../config/schema.js';
import { markdownToHtml, markdownToText } from './markdown.js';

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

// mjml 4 renders synchronously; its published types describe mjml 5's promise.
type MjmlResult = { html: string; errors: Array<{ formattedMessage: string }> };
const mjml2html = mjmlModule as unknown as (source: string, options: Record<string, unknown>) => MjmlResult;

const emailTemplatesDir = templatesDir('email');
const handlebars = Handlebars.create();
handlebars.registerHelper('inc', (n: number) => n + 1);

const compiled = new Map<string, HandlebarsTemplateDelegate>();
function template(name: string, noEscape: boolean): HandlebarsTemplateDelegate {
  let fn = compiled.get(name);
  if (!fn) {
    fn = handlebars.compile(readFileSync(emailTemplatesDir + name, 'utf8'), { noEscape, strict: false });
    compiled.set(name, fn);
  }
  return fn;
}

export const LEVEL_LABELS = { watch: 'Genocide Watch', warning: 'Genocide Warning', emergency: 'Genocide Emergency' } as const;

export function emailTemplateData(alert: Alert, config: Config, personal: { unsubscribeUrl: string; preferencesUrl: string } = PERSONAL) {
  const org = config.organisation;
  return {
    alert,
    org,
    level: alert.level,
    levelLabel: alert.level ? LEVEL_LABELS[alert.level] : '',
    levelColour: alert.level ? org.colours[alert.level] : org.colours.primary,
    countryNames: alert.countries.map((c) => countryName(c, alert.language)).join(', '),
    issuedDate: new Date(alert.issuedAt ?? alert.createdAt).toLocaleDateString(alert.language, { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' }),
    bodyHtml: markdownToHtml(alert.body),
    bodyText: markdownToText(alert.body),
    ...personal,
  };
}

/** Renders an alert's email (HTML through MJML, and plain text) with personal links as markers. */
export function renderAlertEmail(alert: Alert, config: Config): RenderedEmail {
  const data = emailTemplateData(alert, config);
  const { html, errors } = mjml2html(template('alert.mjml.hbs', false)(data), { validationLevel: 'soft', keepComments: false });
  if (errors.length > 0 && !html) throw new Error(`email template: ${errors.map((e) => e.formattedMessage).join('; ')}`);
  const text = template('alert.txt.hbs', true)(data).replace(/\n{3,}/g, '\n\n');
  return { subject: alert.title, html, text, language: alert.language };
}

/** Fills the personal markers; used by preview and by the sender's MIME template alike. */
export function personalise(body: string, links: { unsubscribeUrl: string; preferencesUrl: string }): string {
  return body.split(PERSONAL.unsubscribeUrl).join(links.unsubscribeUrl).split(PERSONAL.preferencesUrl).join(links.preferencesUrl);
}
