import { z } from 'zod';
import { alertInputSchema, type Alert } from './alert.js';

// The fields of an alert that the public may see, as frozen in each published version. Workflow
// fields (status, who approved or scheduled it, internal timestamps) never leave the server.

export const publicAlertSchema = alertInputSchema.extend({
  id: z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'must be a ULID'),
  slug: z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'use lowercase letters, digits and single dashes'),
  issuedAt: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }),
});

export type PublicAlert = z.output<typeof publicAlertSchema>;

/** The public fields of an alert. `issuedAt` defaults as in emails and webhooks: to when it was written. */
export function publicFields(alert: Alert): PublicAlert {
  return {
    id: alert.id,
    slug: alert.slug,
    level: alert.level,
    countries: alert.countries,
    ...(alert.region ? { region: alert.region } : {}),
    title: alert.title,
    summary: alert.summary,
    body: alert.body,
    stages: alert.stages,
    recommendations: alert.recommendations,
    ...(alert.image ? { image: alert.image } : {}),
    attachments: alert.attachments,
    ...(alert.canonicalUrl ? { canonicalUrl: alert.canonicalUrl } : {}),
    language: alert.language,
    ...(alert.updates ? { updates: alert.updates } : {}),
    ...(alert.cancels ? { cancels: alert.cancels } : {}),
    issuedAt: alert.issuedAt ?? alert.createdAt,
  };
}
