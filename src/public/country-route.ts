import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { isCountryCode } from '../domain/countries.js';
import { errors, formatZodIssues } from '../errors.js';
import { cursorSchema } from './archive-route.js';
import type { PublicRouteOptions } from './route-options.js';
import { sendPublicPage } from './respond.js';

const countryQuery = z.object({ cursor: z.preprocess((v) => (v === '' ? undefined : v), cursorSchema.optional()) });

/** GET /countries/:code : one country's alerts, its current level, feeds and a subscribe box. */
export async function countryRoute(app: FastifyInstance, { ctx, site }: PublicRouteOptions): Promise<void> {
  app.get<{ Params: { code: string } }>('/countries/:code', async (request, reply) => {
    const { code } = request.params;
    if (/^[a-z]{2}$/.test(code) && isCountryCode(code.toUpperCase())) return reply.redirect(`/countries/${code.toUpperCase()}`, 301);
    if (!isCountryCode(code)) return sendPublicPage(ctx.config, request, reply, site.notFound());
    const parsed = countryQuery.safeParse(request.query ?? {});
    if (!parsed.success) throw errors.BODY_INVALID(formatZodIssues(parsed.error.issues, 'query'));
    return sendPublicPage(ctx.config, request, reply, await site.countryPage(code, parsed.data.cursor));
  });
}
