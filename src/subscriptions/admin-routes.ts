import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Context } from '../context.js';
import { emailSchema, maskEmail } from '../domain/subscriber.js';
import { errors, formatZodIssues } from '../errors.js';
import { bearerAuth } from '../http/auth.js';
import { AuthLimiter } from '../http/auth-limiter.js';
import { eraseSubscriber } from './erase.js';
import { exportSubscribers, parseStatuses } from './export.js';
import { dsnEvents, parseDsn } from './bounces/dsn.js';
import { recordBounces } from './bounces/policy.js';

const eraseBody = z.object({ email: emailSchema }).strict();

/**
 * Admin routes behind the bearer token. The address to erase travels in the body, never in the
 * URL, so it does not end up in access logs.
 *   POST /api/subscribers/erase            {"email": "..."}
 *   GET  /api/subscribers/export?status=   CSV (confirmed by default; "all" or a list)
 *   POST /api/webhooks/bounces/dsn         an RFC 3464 report (message/rfc822 or text/plain)
 */
export async function adminRoutes(app: FastifyInstance, ctx: Context): Promise<void> {
  app.addHook('onRequest', bearerAuth(ctx.config.secrets.adminToken, new AuthLimiter(ctx)));
  app.addContentTypeParser(['message/rfc822', 'message/delivery-status', 'text/plain'], { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.post('/api/subscribers/erase', { bodyLimit: 4096 }, async (request) => {
    const parsed = eraseBody.safeParse(request.body);
    if (!parsed.success) {
      const emailIssue = parsed.error.issues.find((i) => i.path[0] === 'email');
      throw emailIssue ? errors.EMAIL_INVALID(`email: ${emailIssue.message}`) : errors.BODY_INVALID(formatZodIssues(parsed.error.issues));
    }
    const report = await eraseSubscriber(ctx, parsed.data.email);
    return {
      erased: true,
      found: report.found,
      scrubbed: report.scrubbed,
      message: report.found
        ? `Erased ${maskEmail(parsed.data.email)}; only a keyed hash stays on the suppression list.`
        : `No subscriber had that address; its keyed hash is on the suppression list so no import can add it.`,
    };
  });

  app.get<{ Querystring: { status?: string } }>('/api/subscribers/export', async (request, reply) => {
    let statuses;
    try {
      statuses = parseStatuses(request.query.status);
    } catch (err) {
      throw errors.BODY_INVALID((err as Error).message);
    }
    const lines: string[] = [];
    for await (const line of exportSubscribers(ctx, statuses)) lines.push(line);
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', 'attachment; filename="subscribers.csv"')
      .header('cache-control', 'no-store')
      .send(lines.join(''));
  });

  app.post('/api/webhooks/bounces/dsn', async (request) => {
    const body = request.body;
    if (!Buffer.isBuffer(body) && typeof body !== 'string') throw errors.DSN_INVALID('send the report as message/rfc822 or text/plain');
    const report = parseDsn(body);
    const result = await recordBounces(ctx, dsnEvents(report), 'dsn');
    return {
      ...result,
      recipients: report.recipients.map((r) => ({ recipient: maskEmail(r.finalRecipient), action: r.action, status: r.status, kind: r.kind })),
    };
  });
}
