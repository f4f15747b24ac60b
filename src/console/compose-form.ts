import type { z } from 'zod';
import { alertInputSchema, STAGES, LEVELS, type Alert } from '../domain/alert.js';
import type { ValidAlertInput } from '../domain/parse.js';

// The compose form <-> the alert schema. The form is flat (one input per field, lists as lines);
// validation is the same schema the API and files use, and each problem is reported against the
// form field it came from so the page can point at it.

export type FormBody = Record<string, unknown>;

export interface ComposeValues {
  title: string;
  slug: string;
  level: string;
  countries: string;
  region: string;
  summary: string;
  body: string;
  stages: string[];
  recommendations: string;
  imageUrl: string;
  imageAlt: string;
  imageCaption: string;
  imageCredit: string;
  imageCreditUrl: string;
  attachments: string;
  canonicalUrl: string;
  language: string;
  updates: string;
  cancels: string;
  issuedAt: string;
}

export const FIELD_LABELS: Record<keyof ComposeValues, string> = {
  title: 'Title',
  slug: 'Slug',
  level: 'Level',
  countries: 'Countries',
  region: 'Region',
  summary: 'Summary',
  body: 'Body',
  stages: 'Stages of genocide',
  recommendations: 'Recommendations',
  imageUrl: 'Image URL',
  imageAlt: 'Image alt text',
  imageCaption: 'Image caption',
  imageCredit: 'Image credit',
  imageCreditUrl: 'Image credit link',
  attachments: 'Attachments',
  canonicalUrl: 'Canonical URL',
  language: 'Language',
  updates: 'Updates alert',
  cancels: 'Cancels alert',
  issuedAt: 'Issued at (UTC)',
};

export interface FieldError {
  field: keyof ComposeValues | 'imageFile' | 'attachmentFiles' | 'note';
  label: string;
  message: string;
}

const str = (v: unknown): string => {
  if (Array.isArray(v)) return str(v[0]);
  return typeof v === 'string' ? v : '';
};
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(str) : typeof v === 'string' ? [v] : []);

export const emptyValues = (): ComposeValues => ({
  title: '',
  slug: '',
  level: 'warning',
  countries: '',
  region: '',
  summary: '',
  body: '',
  stages: [],
  recommendations: '',
  imageUrl: '',
  imageAlt: '',
  imageCaption: '',
  imageCredit: '',
  imageCreditUrl: '',
  attachments: '',
  canonicalUrl: '',
  language: 'en',
  updates: '',
  cancels: '',
  issuedAt: '',
});

/** The form's string values; anything else in the body is ignored. */
export function formValues(body: FormBody): ComposeValues {
  const values = emptyValues();
  for (const key of Object.keys(values) as Array<keyof ComposeValues>) {
    if (key === 'stages') values.stages = list(body.stages);
    else values[key] = str(body[key]);
  }
  return values;
}

/** An attachment line is `title | URL`, optionally followed by `| media type | bytes`. */
export function attachmentLine(a: { title: string; url: string; mediaType?: string; bytes?: number }): string {
  return [a.title, a.url, ...(a.mediaType ? [a.mediaType, ...(a.bytes !== undefined ? [String(a.bytes)] : [])] : [])].join(' | ');
}

/** Values for editing a stored alert. */
export function valuesFromAlert(alert: Alert): ComposeValues {
  return {
    title: alert.title,
    slug: alert.slug,
    level: alert.level ?? '',
    countries: alert.countries.join(', '),
    region: alert.region ?? '',
    summary: alert.summary,
    body: alert.body,
    stages: alert.stages.map((s) => String(s.number)),
    recommendations: alert.recommendations.join('\n'),
    imageUrl: alert.image?.url ?? '',
    imageAlt: alert.image?.alt ?? '',
    imageCaption: alert.image?.caption ?? '',
    imageCredit: alert.image?.credit ?? '',
    imageCreditUrl: alert.image?.creditUrl ?? '',
    attachments: alert.attachments.map(attachmentLine).join('\n'),
    canonicalUrl: alert.canonicalUrl ?? '',
    language: alert.language,
    updates: alert.updates ?? '',
    cancels: alert.cancels ?? '',
    issuedAt: alert.issuedAt ? new Date(alert.issuedAt).toISOString().slice(0, 16) : '',
  };
}

const fileTitle = (url: string): string => {
  const last = url.split(/[?#]/)[0].split('/').pop() || url;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
};

const lines = (text: string): string[] =>
  text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);

export interface UploadedRefs {
  image?: { url: string };
  attachments: Array<{ url: string; title: string; mediaType: string; bytes: number }>;
}

/** Builds the schema input from the form (and uploads), validates it, and maps problems to fields. */
export function toAlertInput(
  values: ComposeValues,
  uploads: UploadedRefs = { attachments: [] },
  editing = false,
): { input?: ValidAlertInput; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const opt = (v: string) => (v.trim() === '' ? undefined : v.trim());
  const raw: Record<string, unknown> = {
    level: values.level === '' ? null : values.level,
    countries: values.countries.split(/[\s,;]+/).filter(Boolean),
    title: values.title,
    summary: values.summary,
    body: values.body,
    stages: values.stages.filter(Boolean),
    recommendations: lines(values.recommendations),
    language: opt(values.language),
  };
  if (!editing && opt(values.slug)) raw.slug = opt(values.slug);
  for (const key of ['region', 'canonicalUrl', 'updates', 'cancels'] as const) if (opt(values[key])) raw[key] = opt(values[key]);

  if (opt(values.issuedAt)) {
    const v = values.issuedAt.trim();
    // A datetime-local control sends no zone; the label says UTC.
    raw.issuedAt = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/.test(v) ? `${v.length === 16 ? `${v}:00` : v}Z` : v;
  }

  const imageUrl = uploads.image?.url ?? opt(values.imageUrl);
  const imageExtras = [values.imageAlt, values.imageCaption, values.imageCredit, values.imageCreditUrl].some((v) => v.trim() !== '');
  if (imageUrl) {
    raw.image = {
      url: imageUrl,
      alt: values.imageAlt,
      ...(opt(values.imageCaption) ? { caption: opt(values.imageCaption) } : {}),
      ...(opt(values.imageCredit) ? { credit: opt(values.imageCredit) } : {}),
      ...(opt(values.imageCreditUrl) ? { creditUrl: opt(values.imageCreditUrl) } : {}),
    };
  } else if (imageExtras) {
    errors.push({ field: 'imageUrl', label: FIELD_LABELS.imageUrl, message: 'give an image URL or upload an image, or clear the other image fields' });
  }

  const attachments: unknown[] = [];
  lines(values.attachments).forEach((line, i) => {
    const cells = line.split('|').map((c) => c.trim());
    const [title, url, mediaType, bytes] = cells.length === 1 ? [fileTitle(cells[0]), cells[0]] : cells;
    if (cells.length > 4) {
      errors.push({ field: 'attachments', label: FIELD_LABELS.attachments, message: `line ${i + 1}: write "title | URL", optionally "| media type | bytes"` });
      return;
    }
    attachments.push({ title, url, ...(mediaType ? { mediaType } : {}), ...(bytes && /^\d+$/.test(bytes) ? { bytes: Number(bytes) } : {}) });
  });
  attachments.push(...uploads.attachments);
  raw.attachments = attachments;

  const parsed = alertInputSchema.safeParse(raw);
  if (!parsed.success) errors.push(...parsed.error.issues.map(issueToField));
  return errors.length > 0 || !parsed.success ? { errors } : { input: parsed.data, errors };
}

function issueToField(issue: z.core.$ZodIssue): FieldError {
  const [head, index, sub] = issue.path.map(String);
  const message = issue.code === 'invalid_type' && /received undefined/.test(issue.message) ? 'is required' : issue.message;
  if (head === 'image') {
    const field =
      ({ url: 'imageUrl', alt: 'imageAlt', caption: 'imageCaption', credit: 'imageCredit', creditUrl: 'imageCreditUrl' } as const)[index as 'url'] ??
      'imageUrl';
    return { field, label: FIELD_LABELS[field], message };
  }
  if (head === 'attachments') {
    return {
      field: 'attachments',
      label: FIELD_LABELS.attachments,
      message: index !== undefined ? `attachment ${Number(index) + 1}${sub ? ` ${sub}` : ''}: ${message}` : message,
    };
  }
  if (head === 'recommendations' && index !== undefined)
    return { field: 'recommendations', label: FIELD_LABELS.recommendations, message: `line ${Number(index) + 1}: ${message}` };
  if (head === 'countries' && index !== undefined)
    return { field: 'countries', label: FIELD_LABELS.countries, message: `country ${Number(index) + 1}: ${message}` };
  if (head === 'stages') return { field: 'stages', label: FIELD_LABELS.stages, message };
  const field = (head in FIELD_LABELS ? head : 'title') as keyof ComposeValues;
  return { field, label: FIELD_LABELS[field], message: head in FIELD_LABELS ? message : `${issue.path.join('.') || '(form)'}: ${message}` };
}

/** Options for the level and stage controls. */
export const levelOptions = (selected: string) => [
  { value: '', label: 'None (report or update)', selected: selected === '' },
  ...LEVELS.map((l) => ({ value: l, label: l[0].toUpperCase() + l.slice(1), selected: selected === l })),
];
export const stageOptions = (selected: string[]) => STAGES.map((name, i) => ({ number: i + 1, name, checked: selected.includes(String(i + 1)) }));
