import { X509Certificate, verify as verifySignature } from 'node:crypto';
import { z } from 'zod';
import type { BouncesConfig } from '../../config/schema.js';
import { errors, formatZodIssues } from '../../errors.js';
import type { BounceEvent } from './types.js';
import { withDeadline } from '../../net/deadline.js';

// Amazon SES reports bounces and complaints through SNS. Every SNS message is signed with a key
// whose certificate SNS names by URL; the URL is only trusted on SNS's own hosts (config
// bounces.ses.certHostPattern), and only topics listed in bounces.ses.topicArns are accepted.
// https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html

export const snsEnvelopeSchema = z.object({
  Type: z.enum(['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation']),
  MessageId: z.string().min(1).max(200),
  TopicArn: z.string().min(1).max(300),
  Subject: z.string().max(1000).optional().nullable(),
  Message: z.string().max(300_000),
  Timestamp: z.string().min(1).max(64),
  SignatureVersion: z.enum(['1', '2']),
  Signature: z.string().min(1).max(2000),
  SigningCertURL: z.string().min(1).max(2000),
  SubscribeURL: z.string().max(2000).optional(),
  Token: z.string().max(2000).optional(),
  UnsubscribeURL: z.string().max(2000).optional(),
});
export type SnsEnvelope = z.infer<typeof snsEnvelopeSchema>;

export function parseSnsEnvelope(body: unknown): SnsEnvelope {
  let value = body;
  // SNS posts JSON with Content-Type text/plain.
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      throw errors.BODY_INVALID('SNS message: body is not JSON');
    }
  }
  const parsed = snsEnvelopeSchema.safeParse(value);
  if (!parsed.success) throw errors.BODY_INVALID(`SNS message: ${formatZodIssues(parsed.error.issues)}`);
  return parsed.data;
}

/** The canonical text SNS signs: listed fields, in this order, as "Name\nvalue\n". */
export function snsStringToSign(m: SnsEnvelope): string {
  const fields =
    m.Type === 'Notification'
      ? (['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'] as const)
      : (['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'] as const);
  let out = '';
  for (const name of fields) {
    const value = m[name];
    if (value === undefined || value === null) continue;
    out += `${name}\n${value}\n`;
  }
  return out;
}

export type CertFetcher = (url: string) => Promise<string>;

const MAX_CERT_BYTES = 64 * 1024;

/**
 * Plain HTTPS GET with a deadline, no redirects and a size cap. The URL comes from a signed SNS
 * message and only from hosts `certHostPattern` allows (config), so not the guarded fetcher.
 */
export const fetchCertificate: CertFetcher = (url) =>
  withDeadline(
    5000,
    async (signal) => {
      const response = await fetch(url, { redirect: 'error', signal });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const text = await response.text();
      if (text.length > MAX_CERT_BYTES) throw new Error('certificate too large');
      return text;
    },
    { what: `GET ${url}` },
  );

export class SnsVerifier {
  private readonly hostPattern: RegExp;
  private readonly certs = new Map<string, X509Certificate>();

  constructor(
    private readonly config: BouncesConfig['ses'],
    private readonly fetchCert: CertFetcher = fetchCertificate,
  ) {
    this.hostPattern = new RegExp(config.certHostPattern);
  }

  get enabled(): boolean {
    return this.config.topicArns.length > 0;
  }

  /** True if this URL is on an allowed SNS host (and HTTPS unless the config says otherwise). */
  trustedUrl(raw: string | undefined, pathPattern?: RegExp): URL | null {
    if (!raw) return null;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return null;
    }
    if (url.username || url.password) return null;
    if (url.protocol !== 'https:' && (this.config.requireHttps || url.protocol !== 'http:')) return null;
    if (!this.hostPattern.test(url.hostname)) return null;
    if (pathPattern && !pathPattern.test(url.pathname)) return null;
    return url;
  }

  private async certificate(rawUrl: string): Promise<X509Certificate> {
    const url = this.trustedUrl(rawUrl, /\.pem$/);
    if (!url) throw errors.WEBHOOK_SIGNATURE('SigningCertURL is not an SNS certificate URL');
    const cached = this.certs.get(url.href);
    if (cached) return cached;
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(await this.fetchCert(url.href));
    } catch (err) {
      throw errors.WEBHOOK_SIGNATURE(`could not load the SNS signing certificate (${(err as Error).message})`);
    }
    if (this.certs.size >= 20) this.certs.delete(this.certs.keys().next().value as string);
    this.certs.set(url.href, cert);
    return cert;
  }

  /** Throws WEBHOOK_SIGNATURE unless the message is signed by SNS for an allowed topic and recent. */
  async verify(m: SnsEnvelope, now = Date.now()): Promise<void> {
    if (!this.config.topicArns.includes(m.TopicArn)) throw errors.WEBHOOK_SIGNATURE('topic is not listed in bounces.ses.topicArns');
    const cert = await this.certificate(m.SigningCertURL);
    const validNow = Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
    const signature = Buffer.from(m.Signature, 'base64');
    const algorithm = m.SignatureVersion === '2' ? 'sha256' : 'sha1';
    let ok: boolean;
    try {
      ok = verifySignature(algorithm, Buffer.from(snsStringToSign(m), 'utf8'), cert.publicKey, signature);
    } catch {
      ok = false;
    }
    if (!ok || !validNow) throw errors.WEBHOOK_SIGNATURE('the SNS signature does not match');
    const sent = Date.parse(m.Timestamp);
    if (!Number.isFinite(sent) || now - sent > this.config.maxAgeS * 1000) throw errors.WEBHOOK_SIGNATURE('the SNS message is too old');
  }
}

const recipientsSchema = z.array(z.object({ emailAddress: z.string().max(320) }).loose()).max(1000);
const sesMessageSchema = z
  .object({
    notificationType: z.string().optional(),
    eventType: z.string().optional(),
    bounce: z.object({ bounceType: z.string(), bounceSubType: z.string().optional(), bouncedRecipients: recipientsSchema }).loose().optional(),
    complaint: z.object({ complainedRecipients: recipientsSchema, complaintFeedbackType: z.string().optional() }).loose().optional(),
  })
  .loose();

/** Bounce and complaint events in an SES notification (or SES event publishing) message. */
export function sesEvents(message: string): BounceEvent[] {
  let json: unknown;
  try {
    json = JSON.parse(message);
  } catch {
    throw errors.BODY_INVALID('SES notification: Message is not JSON');
  }
  const parsed = sesMessageSchema.safeParse(json);
  if (!parsed.success) throw errors.BODY_INVALID(`SES notification: ${formatZodIssues(parsed.error.issues)}`);
  const m = parsed.data;
  const type = m.notificationType ?? m.eventType;
  if (type === 'Bounce' && m.bounce) {
    // Permanent is a hard bounce; Transient and Undetermined count as soft.
    const kind = m.bounce.bounceType === 'Permanent' ? 'hard' : 'soft';
    const detail = `${m.bounce.bounceType}/${m.bounce.bounceSubType ?? ''}`;
    return m.bounce.bouncedRecipients.map((r) => ({ email: r.emailAddress, kind, detail }));
  }
  if (type === 'Complaint' && m.complaint) {
    // A "not-spam" feedback report is the opposite of a complaint.
    if (m.complaint.complaintFeedbackType === 'not-spam') return [];
    return m.complaint.complainedRecipients.map((r) => ({ email: r.emailAddress, kind: 'complaint' as const, detail: m.complaint?.complaintFeedbackType }));
  }
  return [];
}
