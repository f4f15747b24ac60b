import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Context } from '../../context.js';
import { verifyToken } from '../../tokens.js';
import { messagePage, renderPage } from '../../render/page.js';
import { personalLinks } from '../../publish/links.js';
import { unsubscribe } from '../../subscriptions/unsubscribe.js';

const REASONS: Record<string, string> = {
  malformed: 'The link is incomplete. Copy the whole link from the email and try again.',
  'bad-signature': 'The link was changed or is not one of ours.',
  expired: 'The link has expired.',
  'wrong-purpose': 'This link is for something else.',
};

/**
 * RFC 8058 one-click unsubscribe. A POST (what mail clients send, body `List-Unsubscribe=One-Click`)
 * unsubscribes at once. A GET only shows a page with a button: link scanners follow GETs.
 */
export async function unsubscribeRoutes(app: FastifyInstance, { ctx }: { ctx: Context }) {
  const refuse = (reply: FastifyReply, reason: string) =>
    reply.code(400).type('text/html; charset=utf-8').send(messagePage(ctx.config, 'This link does not work', REASONS[reason] ?? 'The link is not valid.', true));

  app.get<{ Params: { token: string } }>('/unsubscribe/:token', async (request, reply) => {
    const check = verifyToken(ctx.secret, request.params.token, 'unsubscribe');
    if (!check.ok) return refuse(reply, check.reason);
    const links = personalLinks(ctx, check.payload.s);
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(renderPage(ctx.config, 'unsubscribe', 'Unsubscribe', { action: `/unsubscribe/${request.params.token}`, preferencesUrl: links.preferencesUrl }));
  });

  app.post<{ Params: { token: string } }>('/unsubscribe/:token', async (request, reply) => {
    const check = verifyToken(ctx.secret, request.params.token, 'unsubscribe');
    if (!check.ok) return refuse(reply, check.reason);
    await unsubscribe(ctx, check.payload.s, 'link');
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(renderPage(ctx.config, 'unsubscribe', 'Unsubscribed', { done: true }));
  });
}
