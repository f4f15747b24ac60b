import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { LEVELS } from '../domain/alert.js';
import { isCountryCode } from '../domain/countries.js';
import { errors, formatZodIssues } from '../errors.js';
import type { PublicRouteOptions } from './route-options.js';
import { sendPublicPage } from './respond.js';

const blankToUndefined = (v: unknown) => (v === '' ? undefined : v);

export const cursorSchema = z.string().regex(/^\d{1,15}-[0-9A-HJKMNP-TV-Z]{26}$/, 'is not a page link this site made');

const archiveQuery = z.object({
  country: z.preprocess(
    blankToUndefined,
    z
      .string()
      .transform((s) => s.toUpperCase())
      .refine(isCountryCode, 'must be an ISO 3166-1 alpha-2 code such as KZ')
      .optional(),
  ),
  level: z.preprocess(blankToUndefined, z.enum([...LEVELS, 'report'], { error: `must be one of ${[...LEVELS, 'report'].join(', ')}` }).optional()),
  year: z.preprocess(blankToUndefined, z.coerce.number().int().min(1900).max(2999).optional()),
  cursor: z.preprocess(blankToUndefined, cursorSchema.optional()),
});

/** GET /alerts : the archive, newest first, filtered by country, level and year, a page at a time. */
export async function archiveRoute(app: FastifyInstance, { ctx, site }: PublicRouteOptions): Promise<void> {
  app.get('/alerts', async (request, reply) => {
    const parsed = archiveQuery.safeParse(request.query ?? {});
    if (!parsed.success) throw errors.BODY_INVALID(formatZodIssues(parsed.error.issues, 'query'));
    const { cursor, ...filter } = parsed.data;
    return sendPublicPage(ctx.config, request, reply, await site.archivePage(filter, cursor));
  });
}
