import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { secretsEqual } from '../../http/auth.js';
import type { BouncesConfig } from '../../config/schema.js';
import { errors, formatZodIssues } from '../../errors.js';
import type { BounceEvent, BounceKind } from './types.js';
import { processEnvironment } from '../../config/environment.js';

// Postmark does not sign webhooks. The operator puts basic-auth credentials in the webhook URL
// (https://user:password@host/api/webhooks/bounces/postmark) and/or adds a custom header with a
// secret; both are compared in constant time. https://postmarkapp.com/developer/webhooks/bounce-webhook

export interface PostmarkSecrets {
  basicAuth?: string;
  headerSecret?: string;
  header: string;
}

export function postmarkSecrets(config: BouncesConfig['postmark'], env: NodeJS.ProcessEnv = processEnvironment()): PostmarkSecrets | null {
  const basicAuth = config.basicAuthEnv ? env[config.basicAuthEnv] : undefined;
  const headerSecret = config.headerSecretEnv ? env[config.headerSecretEnv] : undefined;
  if (!basicAuth && !headerSecret) return null;
  return { basicAuth: basicAuth || undefined, headerSecret: headerSecret || undefined, header: config.header.toLowerCase() };
}

/** Every configured check must pass. */
export function authenticatePostmark(request: FastifyRequest, secrets: PostmarkSecrets): void {
  if (secrets.basicAuth) {
    const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(request.headers.authorization ?? '');
    const given = match ? Buffer.from(match[1], 'base64').toString('utf8') : '';
    if (!secretsEqual(given, secrets.basicAuth)) throw errors.UNAUTHORIZED();
  }
  if (secrets.headerSecret) {
    const given = request.headers[secrets.header];
    if (typeof given !== 'string' || !secretsEqual(given, secrets.headerSecret)) throw errors.UNAUTHORIZED();
  }
}

const postmarkSchema = z
  .object({
    RecordType: z.string(),
    Type: z.string().optional(),
    ID: z.union([z.number(), z.string()]).optional(),
    Email: z.string().max(320),
    Description: z.string().optional(),
  })
  .loose();

const HARD = new Set(['HardBounce', 'BadEmailAddress', 'ManuallyDeactivated']);
// Other types (AutoResponder, Subscribe, OpenRelayTest, ...) are not delivery failures.
const SOFT = new Set(['SoftBounce', 'Transient', 'DnsError']);

export function postmarkEvents(body: unknown): { id?: string; events: BounceEvent[] } {
  const parsed = postmarkSchema.safeParse(body);
  if (!parsed.success) throw errors.BODY_INVALID(`Postmark webhook: ${formatZodIssues(parsed.error.issues)}`);
  const p = parsed.data;
  const id = p.ID !== undefined ? String(p.ID) : undefined;
  let kind: BounceKind | null = null;
  if (p.RecordType === 'SpamComplaint' || p.Type === 'SpamComplaint') kind = 'complaint';
  else if (p.RecordType === 'Bounce' && p.Type && HARD.has(p.Type)) kind = 'hard';
  else if (p.RecordType === 'Bounce' && p.Type && SOFT.has(p.Type)) kind = 'soft';
  return { id, events: kind ? [{ email: p.Email, kind, detail: p.Type }] : [] };
}
