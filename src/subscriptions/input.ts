import { z } from 'zod';
import type { Config } from '../config/schema.js';
import { countriesPrefSchema, emailSchema, minLevelSchema, type MinLevel } from '../domain/subscriber.js';

// What the subscribe and preferences forms (and POST /api/subscribe) accept. Form posts and JSON
// are brought to one shape first, then validated by one schema; errors name the field.

export interface Choices {
  countries: string[] | '*';
  minLevel: MinLevel;
  language: string;
}

export interface SubscribeInput extends Choices {
  email: string;
  /** The honeypot field was filled in: answer as usual, do nothing. */
  trapped: boolean;
}

export type FieldErrors = Partial<Record<'email' | 'countries' | 'level' | 'language' | 'form', string>>;

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: FieldErrors };

/** The honeypot's name: a field people do not see and bots like to fill. */
export const HONEYPOT = 'website';

const asList = (v: unknown): unknown[] => (v === undefined || v === null || v === '' ? [] : Array.isArray(v) ? v : [v]);

function choicesSchema(config: Config) {
  const languages = config.subscriptions.languages;
  return z.object({
    countries: countriesPrefSchema,
    level: minLevelSchema,
    language: z.enum(languages as [string, ...string[]], { error: `must be one of ${languages.join(', ')}` }),
  });
}

const blank = (v: unknown) => v === undefined || v === null || v === '';

/** Missing level means every alert; missing language the first configured one. */
function withDefaults<T extends Record<string, unknown>>(config: Config, b: T): T {
  return { ...b, level: blank(b.level) ? 'all' : b.level, language: blank(b.language) ? config.subscriptions.languages[0] : b.language };
}

function collect(error: z.ZodError): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of error.issues) {
    const field = String(issue.path[0] ?? 'form') as keyof FieldErrors;
    const key = field in { email: 1, countries: 1, level: 1, language: 1 } ? field : 'form';
    out[key] ??= issue.message;
  }
  return out;
}

/**
 * Countries from a form: radio `scope` (all | some) and checkboxes `countries`. Ticking
 * countries while leaving "All countries" chosen is ambiguous, so it is refused with a message
 * rather than guessed.
 */
function formCountries(body: Record<string, unknown>): unknown {
  const ticked = asList(body.countries);
  const scope = body.scope;
  if (scope === 'all') {
    if (ticked.length > 0) return { conflict: ticked.length };
    return '*';
  }
  if (scope === 'some' || ticked.length > 0) return ticked.map(String);
  return '*';
}

function conflictError(n: number): string {
  return `you chose "All countries" and also ticked ${n} ${n === 1 ? 'country' : 'countries'}: choose "Only the countries I tick" to get alerts about just those, or untick them`;
}

/** Preferences (countries, level, language) from a form post. */
export function parseChoicesForm(config: Config, body: unknown): Parsed<Choices> {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const countries = formCountries(b);
  if (countries && typeof countries === 'object' && 'conflict' in countries)
    return { ok: false, errors: { countries: conflictError(countries.conflict as number) } };
  if (Array.isArray(countries) && countries.length === 0) return { ok: false, errors: { countries: 'choose at least one country, or "All countries"' } };
  const parsed = choicesSchema(config).safeParse(withDefaults(config, { countries, level: b.level, language: b.language }));
  if (!parsed.success) return { ok: false, errors: collect(parsed.error) };
  return { ok: true, value: { countries: parsed.data.countries, minLevel: parsed.data.level as MinLevel, language: parsed.data.language } };
}

/** The subscribe form: email plus choices plus the honeypot. */
export function parseSubscribeForm(config: Config, body: unknown): Parsed<SubscribeInput> {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const errors: FieldErrors = {};
  const email = emailSchema.safeParse(Array.isArray(b.email) ? b.email[0] : (b.email ?? ''));
  if (!email.success) errors.email = email.error.issues[0]?.message ?? 'is not a valid email address';
  const choices = parseChoicesForm(config, b);
  if (!choices.ok) Object.assign(errors, choices.errors);
  if (!email.success || !choices.ok) return { ok: false, errors };
  return { ok: true, value: { email: email.data, ...choices.value, trapped: isTrapped(b) } };
}

const isTrapped = (b: Record<string, unknown>) => asList(b[HONEYPOT]).some((v) => String(v).trim() !== '');

const apiSchema = (config: Config) =>
  choicesSchema(config)
    .extend({
      email: emailSchema,
      [HONEYPOT]: z.unknown().optional(),
    })
    .strict();

/** "*", "all", a list of ISO codes, or (form-encoded) "KZ,UA". Missing means all countries. */
function apiCountries(v: unknown): unknown {
  if (blank(v) || v === 'all' || v === 'ALL') return '*';
  if (typeof v === 'string' && v !== '*') return v.split(/[\s,;]+/).filter(Boolean);
  return v;
}

/** POST /api/subscribe: JSON {email, countries, level, language?}. */
export function parseSubscribeJson(config: Config, body: unknown): Parsed<SubscribeInput> {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    return { ok: false, errors: { form: 'expected a JSON object like {"email": "jane@example.org", "countries": ["KZ"], "level": "warning"}' } };
  const b = body as Record<string, unknown>;
  const parsed = apiSchema(config).safeParse(withDefaults(config, { ...b, countries: apiCountries(b.countries) }));
  if (!parsed.success) return { ok: false, errors: collect(parsed.error) };
  const d = parsed.data;
  return {
    ok: true,
    value: {
      email: d.email,
      countries: d.countries,
      minLevel: d.level as MinLevel,
      language: d.language as string,
      trapped: isTrapped(d as Record<string, unknown>),
    },
  };
}

/** "email: is not a valid email address; level: must be one of ..." */
export function describeErrors(errors: FieldErrors): string {
  return Object.entries(errors)
    .map(([field, message]) => (field === 'form' ? message : `${field}: ${message}`))
    .join('; ');
}
