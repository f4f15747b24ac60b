import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Context } from '../context.js';
import type { Messenger } from '../channels/messenger.js';
import type { AuditLog } from '../store/audit.js';
import type { GuardDeps } from './guard.js';
import type { RoleTokens } from './roles.js';
import type { SessionStore } from './session.js';
import type { UploadStore } from './uploads.js';
import { csrfToken } from './security.js';
import { renderConsolePage } from './view.js';

/** What the console's route files share. */
export interface ConsoleDeps {
  ctx: Context;
  accounts: Map<string, Messenger>;
  sessions: SessionStore;
  tokens: RoleTokens;
  audit: AuditLog;
  uploads: UploadStore;
  guard: GuardDeps;
}

// Notices after a redirect come from this fixed list, so nothing a link carries is echoed back.
const NOTICES: Record<string, (n: number) => string> = {
  created: () => 'Draft saved.',
  saved: () => 'Changes saved.',
  'saved-unapproved': () => 'Changes saved. The alert is a draft again and needs a new approval.',
  approved: () => 'Alert approved.',
  publishing: () => 'Publishing has started.',
  already: () => 'This alert was already being published; nothing was sent again.',
  scheduled: () => 'Publication scheduled.',
  unscheduled: () => 'Scheduled publication cancelled.',
  retried: (n) => (n > 0 ? `${n} failed ${n === 1 ? 'delivery was' : 'deliveries were'} queued again.` : 'There was nothing to retry.'),
  resolved: (n) => `${n} unknown ${n === 1 ? 'delivery was' : 'deliveries were'} resolved.`,
  checked: () => 'Credentials checked.',
  halted: (n) => `Sending stopped. ${n} waiting ${n === 1 ? 'delivery was' : 'deliveries were'} skipped; sends already in flight finish and are recorded.`,
  'already-halted': () => 'This alert was already halted; nothing changed.',
  resumed: (n) => `Sending resumed: ${n} skipped ${n === 1 ? 'delivery was' : 'deliveries were'} queued again. Nobody already sent to gets it twice.`,
  corrected: (n) => `Correction published as version ${n}. It is going out on every channel.`,
  'corrected-halted': (n) =>
    `Correction published as version ${n}. The earlier version was still going out and was halted first; the correction is going out on every channel.`,
  'correction-already': (n) => `Version ${n} is already this correction; nothing was sent again.`,
  retracted: (n) => `Alert retracted (version ${n}). The retraction is going out on every channel.`,
  'retraction-already': (n) => `This alert was already retracted (version ${n}); nothing was sent again.`,
  'signed-in': () => 'Signed in.',
};

export function noticeFrom(request: FastifyRequest): string | undefined {
  const q = request.query as Record<string, unknown>;
  const make = typeof q.notice === 'string' ? NOTICES[q.notice] : undefined;
  const n = typeof q.n === 'string' && /^\d{1,9}$/.test(q.n) ? Number(q.n) : 0;
  return make?.(n);
}

export interface PageOptions {
  nav?: string;
  scripts?: string[];
  status?: number;
}

export function sendPage(
  deps: ConsoleDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  name: string,
  title: string,
  data: Record<string, unknown> = {},
  options: PageOptions = {},
) {
  const html = renderConsolePage(
    deps.ctx.config,
    name,
    {
      title,
      session: request.consoleSession,
      csrf: csrfToken(request, reply),
      nonce: request.cspNonce ?? '',
      nav: options.nav,
      scripts: options.scripts,
      notice: noticeFrom(request),
    },
    data,
  );
  return reply
    .code(options.status ?? 200)
    .type('text/html; charset=utf-8')
    .send(html);
}

/** Who is acting, for the audit log. */
export function actorOf(request: FastifyRequest): { actor: string; role: string } {
  const session = request.consoleSession;
  return { actor: session?.actor ?? 'unknown', role: session?.role ?? 'unknown' };
}

/** Strings from a urlencoded or multipart body, by field name. */
export function fields(body: unknown): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (!body || typeof body !== 'object') return out;
  for (const [key, raw] of Object.entries(body as Record<string, unknown>)) {
    const one = (v: unknown): string | undefined => {
      if (typeof v === 'string') return v;
      if (v && typeof v === 'object' && (v as { type?: string }).type === 'field') {
        const value = (v as { value?: unknown }).value;
        return typeof value === 'string' ? value : undefined;
      }
      return undefined;
    };
    if (Array.isArray(raw)) {
      const values = raw.map(one).filter((v): v is string => v !== undefined);
      if (values.length) out[key] = values;
    } else {
      const value = one(raw);
      if (value !== undefined) out[key] = value;
    }
  }
  return out;
}

export const field = (body: unknown, name: string): string => {
  const v = fields(body)[name];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
};

/** 303 to a console path with a notice. */
export function redirectWithNotice(reply: FastifyReply, path: string, notice: string, n?: number) {
  return reply.redirect(`${path}?notice=${encodeURIComponent(notice)}${n !== undefined ? `&n=${n}` : ''}`, 303);
}
