import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Context } from '../../context.js';
import { newAlert } from '../../domain/alert.js';
import { parseAlertObject, parseAlertMarkdown } from '../../domain/parse.js';
import { publishAlert } from '../../publish/publish.js';
import { alertStatus } from '../../publish/status.js';
import { errors, formatZodIssues } from '../../errors.js';

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z
    .string()
    .regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'must be an alert id')
    .optional(),
});

export async function alertRoutes(app: FastifyInstance, { ctx }: { ctx: Context }) {
  // JSON, or Markdown with front matter sent as text/markdown.
  app.addContentTypeParser(['text/markdown', 'text/plain'], { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.post('/api/alerts', async (request, reply) => {
    const input = typeof request.body === 'string' ? parseAlertMarkdown(request.body) : parseAlertObject(request.body);
    const alert = await ctx.alerts.create(newAlert(input, new Date(), request.actor));
    await ctx.audit.record(alert.id, { actor: request.actor ?? 'api', action: 'created', detail: 'via the API' });
    return reply.code(201).header('location', `/api/alerts/${alert.id}`).send(alert);
  });

  app.get('/api/alerts', async (request) => {
    const query = listQuery.safeParse(request.query);
    if (!query.success) throw errors.BODY_INVALID(formatZodIssues(query.error.issues));
    return { alerts: await ctx.alerts.list(query.data) };
  });

  app.get<{ Params: { id: string } }>('/api/alerts/:id', async (request) => ctx.alerts.require(request.params.id));

  app.post<{ Params: { id: string } }>('/api/alerts/:id/publish', async (request, reply) => {
    const result = await publishAlert(ctx, request.params.id, request.actor);
    if (result.outcome === 'queued')
      await ctx.audit.record(result.alert.id, { actor: request.actor ?? 'api', action: 'publish-requested', detail: 'via the API' });
    return reply.code(result.outcome === 'queued' ? 202 : 200).send({
      outcome: result.outcome,
      id: result.alert.id,
      status: result.alert.status,
      message: result.outcome === 'queued' ? `Alert ${result.alert.slug} is being published.` : result.message,
    });
  });

  app.get<{ Params: { id: string } }>('/api/alerts/:id/status', async (request) => alertStatus(ctx, request.params.id));
}
