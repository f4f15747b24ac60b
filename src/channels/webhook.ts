import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Alert } from '../domain/alert.js';
import type { WebhookConfig } from '../config/schema.js';
import {
  DeliveryError,
  type FollowUp,
  type HealthReport,
  type Messenger,
  type PostedPart,
  type RenderedMessage,
  type RenderedPart,
  type ThreadPosition,
} from './messenger.js';
import { withDeadline } from '../net/deadline.js';
import { linkOf } from '../domain/alert-link.js';
import { followUpAlert } from '../domain/follow-up.js';
import { slackPayload, discordPayload, postChatWebhook, type ChatFormatOptions, type SlackPayload } from './social/chat-formats.js';
import { deliveryErrorForNetwork, deliveryErrorForStatus, errorText, retryAfterToEpochMs } from './http-errors.js';

// Generic signed webhook. The signature works as Stripe's does:
//   Tocsin-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
// Receivers recompute it over the raw body, compare in constant time, and reject old timestamps.

export const SIGNATURE_HEADER = 'tocsin-signature';

// The alert itself is signed too (README "Signatures and verification"): the body's `signed`
// member is the version's canonical document, and this header carries its Ed25519 signature, so a
// receiver can check it with the public JWK alone, without sharing a secret with us.
//   Tocsin-Alert-Signature: kid=<key id>,alg=EdDSA,sig=<base64url signature over JCS(body.signed)>
export const ALERT_SIGNATURE_HEADER = 'tocsin-alert-signature';

/** The stored signature of one version (src/store/versions.ts), or null for an unsigned one. */
export type SignatureLookup = (
  alertId: string,
  version: number,
  /** The text sent: a receiver that never got the original is sent a correction whole, as "published". */
  text: { title?: string; summary?: string; body?: string },
) => Promise<{ kid: string; alg: string; sig: string; document: string } | null>;

export function signPayload(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${v1}`;
}

/** For receivers written in JS, and for our tests: checks signature and age (default 5 minutes). */
export function verifySignature(secret: string, body: string, header: string, toleranceS = 300, now = Date.now()): boolean {
  const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1 || Math.abs(now / 1000 - t) > toleranceS) return false;
  const expected = Buffer.from(signPayload(secret, body, t).split('v1=')[1], 'hex');
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The JSON document a webhook receives: the alert's public fields, nothing about subscribers. */
/** A version's id in webhooks and CAP: the alert id and the version number. */
export const versionId = (alertId: string, version: number) => `${alertId}.v${version}`;

export function webhookPayload(alert: Alert, followUp?: FollowUp) {
  const version = followUp?.version ?? 1;
  return {
    type: followUp ? (followUp.kind === 'correction' ? 'alert.corrected' : 'alert.retracted') : 'alert.published',
    id: alert.id,
    version,
    versionId: versionId(alert.id, version),
    ...(followUp
      ? {
          previousVersionId: versionId(alert.id, version - 1),
          ...(followUp.kind === 'correction' ? { note: followUp.note } : { reason: followUp.note }),
          at: followUp.at,
        }
      : {}),
    slug: alert.slug,
    level: alert.level,
    countries: alert.countries,
    region: alert.region ?? null,
    title: alert.title,
    summary: alert.summary,
    body: alert.body,
    stages: alert.stages,
    recommendations: alert.recommendations,
    image: alert.image ?? null,
    attachments: alert.attachments,
    canonicalUrl: alert.canonicalUrl ?? null,
    // Where to read it: the canonical URL, or Tocsin's public page (withLink, src/domain/alert-link.ts).
    url: linkOf(alert) ?? null,
    language: alert.language,
    issuedAt: alert.issuedAt ?? alert.createdAt,
    updates: alert.updates ?? null,
    cancels: alert.cancels ?? null,
  };
}

export class WebhookChannel implements Messenger {
  readonly provider: string;
  /** Signed JSON receivers deduplicate on Idempotency-Key; Slack and Discord do not. */
  readonly safeToResend: boolean;
  readonly id: string;

  constructor(
    private readonly config: WebhookConfig,
    private readonly secret: string | undefined,
    private readonly chat: ChatFormatOptions = {},
    private readonly signatures?: SignatureLookup,
  ) {
    this.id = config.id;
    this.provider = config.format === 'json' ? 'webhook' : config.format;
    this.safeToResend = config.format === 'json';
  }

  get partDeadlineMs(): number {
    return this.config.timeoutMs * 2;
  }

  render(alert: Alert, followUp?: FollowUp): RenderedMessage {
    // Slack and Discord get a new message that says what it is and links the alert's page.
    const chatAlert = followUp ? followUpAlert(alert, followUp) : alert;
    const payload =
      this.config.format === 'slack'
        ? slackPayload(chatAlert, this.chat)
        : this.config.format === 'discord'
          ? discordPayload(chatAlert, this.chat)
          : webhookPayload(alert, followUp);
    const text = JSON.stringify(payload);
    return { channel: this.id, provider: this.provider, parts: [{ text, length: Buffer.byteLength(text), limit: 1_048_576 }] };
  }

  async postPart(part: RenderedPart, position: ThreadPosition, signal: AbortSignal): Promise<PostedPart> {
    let body = part.text;
    if (this.config.format !== 'json') {
      return postChatWebhook(this.config.format, this.config.url, JSON.parse(body) as SlackPayload, { timeoutMs: this.config.timeoutMs, signal });
    }
    const payload = JSON.parse(body) as { type?: string; id?: string; version?: number; title?: string; summary?: string; body?: string };
    const event = payload.type ?? 'alert.published';
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'Tocsin-Webhook/1',
      'idempotency-key': position.idempotencyKey,
      'tocsin-event': event,
    };
    const signed = payload.id && payload.version && this.signatures ? await this.signatures(payload.id, payload.version, payload) : null;
    if (signed) {
      body = JSON.stringify({ ...payload, signed: JSON.parse(signed.document) as unknown });
      headers[ALERT_SIGNATURE_HEADER] = `kid=${signed.kid},alg=${signed.alg},sig=${signed.sig}`;
    }
    if (this.secret) headers[SIGNATURE_HEADER] = signPayload(this.secret, body);
    let status: number;
    let answer: string;
    let requestId: string | null;
    let retryAfter: string | null;
    try {
      ({ status, answer, requestId, retryAfter } = await withDeadline(
        this.config.timeoutMs,
        async (s) => {
          const response = await fetch(this.config.url, { method: 'POST', headers, body, signal: s });
          return {
            status: response.status,
            answer: (await response.text().catch(() => '')).slice(0, 300),
            requestId: response.headers.get('x-request-id'),
            retryAfter: response.headers.get('retry-after'),
          };
        },
        { signal, what: `POST ${new URL(this.config.url).origin}` },
      ));
    } catch (err) {
      // A receiver is told to deduplicate on Idempotency-Key, so even a timeout is safe to retry.
      const e = deliveryErrorForNetwork(err, true);
      throw new DeliveryError('transient', e.message, e.options);
    }
    if (status < 200 || status >= 300) throw deliveryErrorForStatus(status, `HTTP ${status}${answer ? `: ${answer}` : ''}`, retryAfterToEpochMs(retryAfter));
    return { id: requestId ?? `HTTP ${status}` };
  }

  async checkHealth(signal?: AbortSignal): Promise<HealthReport> {
    const checkedAt = new Date().toISOString();
    if (this.config.secretEnv && !this.secret) return { ok: false, checkedAt, detail: `${this.config.secretEnv} is not set` };
    try {
      const status = await withDeadline(this.config.timeoutMs, async (s) => (await fetch(this.config.url, { method: 'HEAD', signal: s })).status, {
        signal,
        what: `HEAD ${new URL(this.config.url).origin}`,
      });
      return { ok: status < 500, checkedAt, detail: `HEAD answered ${status}` };
    } catch (err) {
      return { ok: false, checkedAt, detail: `unreachable: ${errorText(err)}` };
    }
  }
}
