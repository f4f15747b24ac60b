import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Context } from '../../context.js';
import { errors, formatZodIssues } from '../../errors.js';
import { haltAlert, resumeAlert } from '../../publish/halt.js';
import { correctAlert, retractAlert } from '../../publish/follow-up.js';

const haltBody = z.object({ reason: z.string().trim().min(1).max(2000).default('halted through the API') }).strict();
const correctBody = z.object({ note: z.string().trim().min(1, 'say what changed').max(2000), alert: z.record(z.string(), z.unknown()) }).strict();
const retractBody = z.object({ reason: z.string().trim().min(1, 'say why').max(2000), deleteOriginals: z.boolean().default(false) }).strict();

function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body ?? {});
  if (!result.success) throw errors.BODY_INVALID(formatZodIssues(result.error.issues));
  return result.data;
}

/** Halt, resume, correct and retract over the admin API (bearer token, as every /api/alerts route). */
export async function followUpRoutes(app: FastifyInstance, { ctx }: { ctx: Context }) {
  const actor = (request: { actor?: string }) => request.actor ?? 'admin-token';

  app.post<{ Params: { id: string } }>('/api/alerts/:id/halt', async (request, reply) => {
    const { reason } = parse(haltBody, request.body);
    const result = await haltAlert(ctx, request.params.id, actor(request), reason);
    return reply.code(result.outcome === 'halted' ? 202 : 200).send(result);
  });

  app.post<{ Params: { id: string } }>('/api/alerts/:id/resume', async (request, reply) => {
    return reply.code(202).send(await resumeAlert(ctx, request.params.id, actor(request)));
  });

  app.post<{ Params: { id: string } }>('/api/alerts/:id/correct', async (request, reply) => {
    const { note, alert } = parse(correctBody, request.body);
    const result = await correctAlert(ctx, request.params.id, alert, note, actor(request));
    return reply.code(result.outcome === 'queued' ? 202 : 200).send(result);
  });

  app.post<{ Params: { id: string } }>('/api/alerts/:id/retract', async (request, reply) => {
    const { reason, deleteOriginals } = parse(retractBody, request.body);
    const result = await retractAlert(ctx, request.params.id, reason, actor(request), { deleteOriginals });
    return reply.code(result.outcome === 'queued' ? 202 : 200).send(result);
  });
}
