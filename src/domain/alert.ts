import { z } from 'zod';
import { ulid } from 'ulid';
import { isCountryCode } from './countries.js';

// Genocide Watch's scale, lowest first. `null` level means a report or update, not an alert.
export const LEVELS = ['watch', 'warning', 'emergency'] as const;
export type Level = (typeof LEVELS)[number];
/** How the levels are written in messages. */
export const LEVEL_NAMES: Record<Level, string> = { watch: 'Genocide Watch', warning: 'Genocide Warning', emergency: 'Genocide Emergency' };

export const levelRank = (level: Level | null): number => (level === null ? -1 : LEVELS.indexOf(level));

// The Ten Stages of Genocide (Gregory Stanton), numbered 1-10.
export const STAGES = [
  'Classification',
  'Symbolization',
  'Discrimination',
  'Dehumanization',
  'Organization',
  'Polarization',
  'Preparation',
  'Persecution',
  'Extermination',
  'Denial',
] as const;

export const ALERT_STATUSES = ['draft', 'approved', 'scheduled', 'publishing', 'halted', 'published', 'corrected', 'retracted'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

const noControlChars = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must be one line without control characters');

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** A stage may be written as its number, its name, or {number, name}; it is stored as both. */
const stageSchema = z.union([z.number(), z.string(), z.object({ number: z.number(), name: z.string().optional() })]).transform((value, ctx) => {
  const raw = typeof value === 'object' ? value.number : value;
  const byNumber = typeof raw === 'number' || /^\d+$/.test(raw) ? Number(raw) : undefined;
  const index = byNumber !== undefined ? byNumber - 1 : STAGES.findIndex((s) => s.toLowerCase() === String(raw).trim().toLowerCase());
  if (!Number.isInteger(index) || index < 0 || index >= STAGES.length) {
    ctx.addIssue({ code: 'custom', message: `"${raw}" is not one of the ten stages (1-10 or ${STAGES.join(', ')})` });
    return z.NEVER;
  }
  if (typeof value === 'object' && value.name && value.name.toLowerCase() !== STAGES[index].toLowerCase()) {
    ctx.addIssue({ code: 'custom', message: `stage ${index + 1} is ${STAGES[index]}, not "${value.name}"` });
    return z.NEVER;
  }
  return { number: index + 1, name: STAGES[index] };
});

export const imageSchema = z.object({
  url: httpUrl,
  alt: z.string().trim().min(1, 'alt text is required so screen-reader users get the picture').max(1000),
  caption: z.string().trim().max(2000).optional(),
  credit: z.string().trim().max(300).optional(),
  creditUrl: httpUrl.optional(),
});

export const attachmentSchema = z.object({
  url: httpUrl,
  title: noControlChars(200),
  mediaType: z
    .string()
    .regex(/^[a-z]+\/[a-z0-9.+-]+$/, 'must be a media type like application/pdf')
    .optional(),
  bytes: z.number().int().nonnegative().optional(),
});

const countryCode = z
  .string()
  .transform((s) => s.trim().toUpperCase())
  .refine(isCountryCode, 'must be an ISO 3166-1 alpha-2 code such as KZ');

/** What an author writes. Server-owned fields (id, status, timestamps) are not accepted here. */
export const alertInputSchema = z
  .object({
    slug: z
      .string()
      .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'use lowercase letters, digits and single dashes')
      .max(120)
      .optional(),
    level: z
      .enum(LEVELS, { error: `must be one of ${LEVELS.join(', ')} (or null for a report)` })
      .nullable()
      .default(null),
    countries: z.array(countryCode).min(1, 'name at least one country').max(30),
    region: z.string().trim().max(200).optional(),
    title: noControlChars(200),
    summary: z.string().trim().min(1, 'must not be empty').max(1000, 'must be at most 1000 characters'),
    body: z.string().max(100_000, 'must be at most 100000 characters').default(''),
    stages: z.array(stageSchema).max(10).default([]),
    recommendations: z.array(z.string().trim().min(1).max(2000)).max(50).default([]),
    image: imageSchema.optional(),
    attachments: z.array(attachmentSchema).max(20).default([]),
    canonicalUrl: httpUrl.optional(),
    language: z
      .string()
      .regex(/^[a-z]{2,3}(?:-[A-Z]{2})?$/, 'must be a language tag like en or fr-CA')
      .default('en'),
    updates: z
      .string()
      .regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'must be the id of an earlier alert')
      .optional(),
    cancels: z
      .string()
      .regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'must be the id of an earlier alert')
      .optional(),
    issuedAt: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).optional(),
  })
  .strict();

export type AlertInput = z.input<typeof alertInputSchema>;
export type Stage = { number: number; name: string };

export interface Alert extends z.output<typeof alertInputSchema> {
  id: string;
  slug: string;
  status: AlertStatus;
  createdAt: string;
  updatedAt: string;
  createdBy?: string;
  publishedAt?: string;
}

export function slugify(title: string): string {
  return (
    title
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 80)
      .replace(/-+$/, '') || 'alert'
  );
}

/** Builds a new draft from validated input; the id is a ULID so ids sort by creation time. */
export function newAlert(input: z.output<typeof alertInputSchema>, now = new Date(), createdBy?: string): Alert {
  return {
    ...input,
    id: ulid(now.getTime()),
    slug: input.slug ?? slugify(input.title),
    status: 'draft',
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    ...(createdBy ? { createdBy } : {}),
  };
}

/** Does a subscriber with these preferences want this alert? `minLevel: 'all'` also takes reports. */
export function matchesPreferences(alert: Pick<Alert, 'level' | 'countries'>, prefs: { countries: string[] | '*'; minLevel: Level | 'all' }): boolean {
  if (prefs.minLevel !== 'all' && levelRank(alert.level) < levelRank(prefs.minLevel)) return false;
  return prefs.countries === '*' || alert.countries.some((c) => prefs.countries.includes(c));
}
