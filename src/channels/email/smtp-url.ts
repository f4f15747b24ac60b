import { z } from 'zod';

// SMTP_URL, read by Tocsin's own SMTP sender: smtp://user:pass@host:587 (STARTTLS when the
// server offers it) or smtps://user:pass@host:465 (TLS from the first byte). The query string may
// carry the few switches below; anything else is refused with its name, so a typo is not ignored.

export interface SmtpEndpoint {
  host: string;
  port: number;
  /** TLS from the first byte (smtps://). */
  secure: boolean;
  auth?: { user: string; pass: string };
  /** Refuse to go on without STARTTLS (smtp:// only). */
  requireTLS: boolean;
  /** Never try STARTTLS, even when offered (a local catcher with a broken certificate). */
  ignoreTLS: boolean;
  /** The name sent with EHLO; default: this machine's name when it is a full domain name. */
  name?: string;
  tls: { rejectUnauthorized: boolean; servername?: string };
}

const bool = (field: string) =>
  z.enum(['true', 'false', '1', '0', 'yes', 'no'], { error: `SMTP_URL: ?${field} must be true or false` }).transform((v) => ['true', '1', 'yes'].includes(v));

const querySchema = z
  .object({
    'tls.rejectUnauthorized': bool('tls.rejectUnauthorized').optional(),
    'tls.servername': z.string().min(1).optional(),
    requireTLS: bool('requireTLS').optional(),
    ignoreTLS: bool('ignoreTLS').optional(),
    name: z
      .string()
      .regex(/^[A-Za-z0-9.[\]:-]{1,255}$/, 'SMTP_URL: ?name must be a host name')
      .optional(),
  })
  .strict();

export function parseSmtpUrl(url: string): SmtpEndpoint {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('SMTP_URL: not a URL (expected smtp://user:pass@host:port or smtps://...)');
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw new Error(`SMTP_URL: must start with smtp:// or smtps://, not ${u.protocol}//`);
  if (!u.hostname) throw new Error('SMTP_URL: the host is missing');
  const secure = u.protocol === 'smtps:';
  const query = querySchema.safeParse(Object.fromEntries(u.searchParams));
  if (!query.success) {
    const issue = query.error.issues[0];
    const key = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.');
    throw new Error(issue.code === 'unrecognized_keys' ? `SMTP_URL: unknown option ?${key}` : `${issue.message} (?${key})`);
  }
  const q = query.data;
  const user = decodeURIComponent(u.username);
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port ? Number(u.port) : secure ? 465 : 587,
    secure,
    auth: user ? { user, pass: decodeURIComponent(u.password) } : undefined,
    requireTLS: q.requireTLS ?? false,
    ignoreTLS: q.ignoreTLS ?? false,
    name: q.name,
    tls: { rejectUnauthorized: q['tls.rejectUnauthorized'] ?? true, servername: q['tls.servername'] },
  };
}
