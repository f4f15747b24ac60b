import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { errors, formatZodIssues } from '../../errors.js';
import type { BounceEvent } from './types.js';

// Mailgun signs each webhook: HMAC-SHA256(signing key, timestamp + token), hex. Old timestamps
// and reused tokens are refused (the caller keeps tokens for the freshness window).
// https://documentation.mailgun.com/docs/mailgun/user-manual/tracking-messages/#securing-webhooks

export const mailgunSchema = z.object({
  signature: z.object({
    timestamp: z.union([z.string(), z.number()]).transform(String),
    token: z.string().min(10).max(200),
    signature: z.string().max(200),
  }),
  'event-data': z
    .object({
      event: z.string(),
      severity: z.string().optional(),
      recipient: z.string().max(320).optional(),
      reason: z.string().optional(),
      id: z.string().optional(),
    })
    .loose(),
});
export type MailgunWebhook = z.infer<typeof mailgunSchema>;

export function parseMailgun(body: unknown): MailgunWebhook {
  const parsed = mailgunSchema.safeParse(body);
  if (!parsed.success) throw errors.BODY_INVALID(`Mailgun webhook: ${formatZodIssues(parsed.error.issues)}`);
  return parsed.data;
}

export function verifyMailgun(hook: MailgunWebhook, signingKey: string, maxAgeS: number, now = Date.now()): void {
  const { timestamp, token, signature } = hook.signature;
  const expected = createHmac('sha256', signingKey)
    .update(timestamp + token)
    .digest();
  const given = /^[0-9a-f]{64}$/i.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw errors.WEBHOOK_SIGNATURE('the Mailgun signature does not match');
  const age = now / 1000 - Number(timestamp);
  if (!Number.isFinite(age) || Math.abs(age) > maxAgeS) throw errors.WEBHOOK_SIGNATURE('the Mailgun timestamp is too old or in the future');
}

export function mailgunEvents(hook: MailgunWebhook): BounceEvent[] {
  const e = hook['event-data'];
  if (!e.recipient) return [];
  if (e.event === 'complained') return [{ email: e.recipient, kind: 'complaint', detail: 'complained' }];
  if (e.event === 'failed')
    return [{ email: e.recipient, kind: e.severity === 'permanent' ? 'hard' : 'soft', detail: `${e.severity ?? ''} ${e.reason ?? ''}`.trim() }];
  return [];
}
