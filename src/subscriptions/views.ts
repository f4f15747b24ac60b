import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';
import type { FastifyReply } from 'fastify';
import type { Config } from '../config/schema.js';
import { countryOptions } from '../domain/countries.js';
import { MIN_LEVELS, type MinLevel } from '../domain/subscriber.js';
import { renderPage } from '../render/page.js';
import { templatesDir } from '../paths.js';
import type { Choices, FieldErrors } from './input.js';
import { HONEYPOT } from './input.js';

// View models for the public subscription pages. The country/level/language fieldsets are shared
// by the subscribe and preferences forms, rendered from templates/pages/choices-fields.hbs.

const handlebars = Handlebars.create();
let fieldsTemplate: HandlebarsTemplateDelegate | undefined;

export const LEVEL_CHOICES: Record<MinLevel, { label: string; hint: string }> = {
  all: { label: 'Everything', hint: 'alerts at every level, plus reports and updates' },
  watch: { label: 'Genocide Watch and above', hint: 'early warning signs, and every more serious alert' },
  warning: { label: 'Genocide Warning and above', hint: 'when genocide may be imminent, and emergencies' },
  emergency: { label: 'Genocide Emergency only', hint: 'when genocide or mass atrocities are under way' },
};

const languageNames = new Map<string, string>();
function languageName(tag: string): string {
  let name = languageNames.get(tag);
  if (!name) {
    try {
      name = new Intl.DisplayNames([tag, 'en'], { type: 'language' }).of(tag) ?? tag;
    } catch {
      name = tag;
    }
    languageNames.set(tag, name);
  }
  return name;
}

/** The fieldsets (already escaped HTML) for these choices and errors. */
export function choicesFields(config: Config, choices: Partial<Choices> & { scope?: string }, errors: FieldErrors = {}): string {
  fieldsTemplate ??= handlebars.compile(readFileSync(`${templatesDir('pages')}choices-fields.hbs`, 'utf8'), { strict: false });
  const selected = new Set(choices.countries === '*' || !choices.countries ? [] : choices.countries);
  const scopeAll = choices.scope ? choices.scope === 'all' : choices.countries === undefined || choices.countries === '*';
  const level = choices.minLevel ?? 'all';
  const languages = config.subscriptions.languages;
  const options = countryOptions('en');
  return fieldsTemplate({
    scopeAll,
    // Ticked countries come first, so a long list never hides what someone already chose.
    countries: [...options.filter((c) => selected.has(c.code)), ...options.filter((c) => !selected.has(c.code))].map((c) => ({
      ...c,
      checked: selected.has(c.code),
    })),
    tickedNames: options
      .filter((c) => selected.has(c.code))
      .map((c) => c.name)
      .join(', '),
    levels: MIN_LEVELS.map((value) => ({ value, ...LEVEL_CHOICES[value], checked: value === level })),
    languages: languages.map((value) => ({ value, name: languageName(value), selected: value === (choices.language ?? languages[0]) })),
    multipleLanguages: languages.length > 1,
    language: choices.language ?? languages[0],
    errors,
  });
}

/** Error summary entries, in page order, each linking to its field. */
export function errorList(errors: FieldErrors): Array<{ href: string; message: string }> {
  const anchors: Record<string, string> = { email: '#email', countries: '#countries', level: '#level-all', language: '#language', form: '#main' };
  const labels: Record<string, string> = { email: 'Email address', countries: 'Countries', level: 'Alert level', language: 'Language', form: '' };
  return (['email', 'countries', 'level', 'language', 'form'] as const)
    .filter((f) => errors[f])
    .map((f) => ({ href: anchors[f], message: labels[f] ? `${labels[f]}: ${errors[f]}` : (errors[f] as string) }));
}

export function subscribePage(config: Config, options: { email?: string; choices?: Partial<Choices> & { scope?: string }; errors?: FieldErrors } = {}): string {
  const errors = options.errors ?? {};
  return renderPage(config, 'subscribe', Object.keys(errors).length ? 'Error: subscribe' : 'Subscribe', {
    action: '/subscribe',
    email: options.email ?? '',
    errors,
    errorList: errorList(errors),
    fields: choicesFields(config, options.choices ?? {}, errors),
    honeypot: HONEYPOT,
    pendingDays: Math.round(config.subscriptions.pendingExpiryS / 86400),
  });
}

// Pages are served with a strict policy: no scripts at all, forms only to ourselves, and no
// Referer (token links must not leak to other sites).
const CSP_BASE = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; form-action 'self'; base-uri 'none'";

export function sendPage(reply: FastifyReply, html: string, options: { status?: number; frameable?: boolean } = {}): FastifyReply {
  return reply
    .code(options.status ?? 200)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', `${CSP_BASE}; frame-ancestors ${options.frameable ? '*' : "'none'"}`)
    .send(html);
}
