import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Context } from '../../context.js';
import type { Messenger } from '../../channels/messenger.js';
import { renderPreview } from '../../publish/preview.js';
import { bearerAuth } from '../auth.js';
import { AuthLimiter } from '../auth-limiter.js';
import { errors, formatZodIssues } from '../../errors.js';

const query = z.object({ channel: z.string().min(1, 'name a channel: "email" or an account id').max(64) });

/** GET /api/alerts/:id/preview?channel=NAME: the same output as `tocsin render`. */
export async function previewRoutes(app: FastifyInstance, ctx: Context, accounts: Map<string, Messenger>): Promise<void> {
  app.addHook('onRequest', bearerAuth(ctx.config.secrets.adminToken, new AuthLimiter(ctx)));
  app.get<{ Params: { id: string } }>('/api/alerts/:id/preview', async (request) => {
    const parsed = query.safeParse(request.query);
    if (!parsed.success) throw errors.BODY_INVALID(formatZodIssues(parsed.error.issues));
    const alert = await ctx.alerts.require(request.params.id);
    const preview = await renderPreview(ctx, accounts, alert, parsed.data.channel);
    return preview.kind === 'email'
      ? { channel: 'email', subject: preview.email.subject, text: preview.email.text, html: preview.email.html }
      : { channel: preview.message.channel, provider: preview.message.provider, parts: preview.message.parts };
  });
  app.get('/api/channels', async () => ({
    channels: ['email', ...accounts.keys()].map((id) => ({ id, provider: id === 'email' ? 'email' : accounts.get(id)!.provider })),
  }));
}
