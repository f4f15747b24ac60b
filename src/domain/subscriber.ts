import { z } from 'zod';
import { LEVELS, type Level } from './alert.js';
import { isCountryCode } from './countries.js';

export const SUBSCRIBER_STATUSES = ['pending', 'confirmed', 'unsubscribed', 'bounced', 'complained'] as const;
export type SubscriberStatus = (typeof SUBSCRIBER_STATUSES)[number];

/** `all` also receives reports and updates that carry no level. */
export const MIN_LEVELS = ['all', ...LEVELS] as const;
export type MinLevel = Level | 'all';

export const emailSchema = z
  .string({ error: 'must be a string' })
  .trim()
  .max(254, 'must be at most 254 characters')
  .refine((s) => !/[\r\n\u0000]/.test(s), 'must not contain line breaks')
  .pipe(z.email({ error: 'is not a valid email address' }));

const countryListSchema = z
  .array(
    z
      .string()
      .transform((s) => s.trim().toUpperCase())
      .refine(isCountryCode, 'must be an ISO 3166-1 alpha-2 code such as KZ'),
  )
  .min(1, 'choose at least one country, or "*" for all')
  .max(249)
  .transform((list) => [...new Set(list)].sort());

/** "*" for every country, or a list of ISO codes. Errors point at the offending entry. */
export const countriesPrefSchema = z.any().transform((value, ctx): string[] | '*' => {
  if (value === '*') return '*';
  const parsed = countryListSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path as PropertyKey[] });
  return z.NEVER;
});

export const minLevelSchema = z.enum(MIN_LEVELS, { error: `must be one of ${MIN_LEVELS.join(', ')}` });

export interface Subscriber {
  id: number;
  email: string;
  countries: string[] | '*';
  minLevel: MinLevel;
  status: SubscriberStatus;
  language: string;
  createdAt: number;
  confirmedAt?: number;
  /** How consent was given: `form`, `api` or `import:<basis>`. */
  consentSource: string;
  formVersion?: string;
}

/** Lower-cased address used as the identity of a subscriber. */
export const normaliseEmail = (email: string): string => email.trim().toLowerCase();

/** "jane.doe@example.org" -> "ja***@ex***.org": enough for staff to recognise, useless to a leak. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 0) return '***';
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  const dot = domain.lastIndexOf('.');
  const host = dot > 0 ? domain.slice(0, dot) : domain;
  const tld = dot > 0 ? domain.slice(dot) : '';
  return `${local.slice(0, 2)}***@${host.slice(0, 2)}***${tld}`;
}

/** Masks every email address inside a text (an SMTP reply quotes the recipient): logs and status never show one. */
export function maskEmailsIn(text: string): string {
  return text.replace(/[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+/g, (address) =>
    maskEmail(address),
  );
}
