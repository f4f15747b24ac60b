import type { Config } from '../config/schema.js';
import { countryName } from '../domain/countries.js';
import { emailTemplate, emailTemplateExists, mjmlToHtml } from './email-templates.js';
import type { MinLevel } from '../domain/subscriber.js';

// Confirmation, welcome and goodbye emails: MJML for the HTML part, a plain-text twin, both from
// templates/email/<kind>[.<lang>].{mjml,txt}.hbs with the shared subscription layout. Every value
// is escaped by Handlebars; nothing here tracks opens or clicks.

export type SubscriptionEmailKind = 'confirm' | 'welcome' | 'goodbye';

export interface SubscriptionEmailData {
  /** Countries chosen, "*" for all. */
  countries: string[] | '*';
  minLevel: MinLevel;
  language: string;
  confirmUrl?: string;
  unsubscribeUrl?: string;
  preferencesUrl?: string;
  /** How long the confirm link works, in seconds. */
  expiresInS?: number;
}

export interface RenderedSubscriptionEmail {
  subject: string;
  html: string;
  text: string;
  language: string;
}

function template(kind: SubscriptionEmailKind, language: string, ext: 'mjml' | 'txt'): HandlebarsTemplateDelegate {
  const localised = `${kind}.${language}.${ext}.hbs`;
  return emailTemplate(emailTemplateExists(localised) ? localised : `${kind}.${ext}.hbs`);
}

/** Configured languages without their own templates (their emails fall back to the default ones). */
export function languagesWithoutTemplates(languages: string[]): string[] {
  return languages.filter(
    (lang) => lang !== 'en' && !(['confirm', 'welcome', 'goodbye'] as const).every((kind) => emailTemplateExists(`${kind}.${lang}.mjml.hbs`)),
  );
}

export const MIN_LEVEL_LABELS: Record<MinLevel, string> = {
  all: 'every alert, report and update',
  watch: 'Genocide Watch, Warning and Emergency alerts',
  warning: 'Genocide Warning and Emergency alerts',
  emergency: 'Genocide Emergency alerts only',
};

export function describeCountries(countries: string[] | '*', language = 'en'): string {
  if (countries === '*') return 'all countries';
  return countries.map((c) => countryName(c, language)).join(', ');
}

function duration(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400} day${seconds === 86400 ? '' : 's'}`;
  if (seconds % 3600 === 0) return `${seconds / 3600} hour${seconds === 3600 ? '' : 's'}`;
  return `${Math.round(seconds / 60)} minutes`;
}

const SUBJECTS: Record<SubscriptionEmailKind, (org: string) => string> = {
  confirm: (org) => `Confirm your subscription to ${org} alerts`,
  welcome: (org) => `You are subscribed to ${org} alerts`,
  goodbye: (org) => `You are unsubscribed from ${org} alerts`,
};

export async function renderSubscriptionEmail(kind: SubscriptionEmailKind, config: Config, data: SubscriptionEmailData): Promise<RenderedSubscriptionEmail> {
  const org = config.organisation;
  const base = config.http.publicUrl.replace(/\/+$/, '');
  const subject = SUBJECTS[kind](org.name);
  const model = {
    ...data,
    org,
    subject,
    kind,
    subscribeUrl: `${base}/subscribe`,
    countriesText: describeCountries(data.countries, data.language),
    levelText: MIN_LEVEL_LABELS[data.minLevel],
    expiresIn: data.expiresInS ? duration(data.expiresInS) : '',
  };
  const html = await mjmlToHtml(template(kind, data.language, 'mjml')(model), `${kind} email`);
  const text =
    template(
      kind,
      data.language,
      'txt',
    )(model)
      .replace(/\n{3,}/g, '\n\n')
      .trim() + '\n';
  return { subject, html, text, language: data.language };
}
