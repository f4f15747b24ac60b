import type { FastifyInstance } from 'fastify';
import type { PublicRouteOptions } from './route-options.js';
import { sendPublicPage } from './respond.js';

const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * GET /alerts/:slug and /alerts/:slug/v/:n. Only the public index is consulted: an address that
 * is not a published alert gets the one 404 page, by the same path, whatever is stored under it.
 */
export async function alertRoute(app: FastifyInstance, { ctx, site }: PublicRouteOptions): Promise<void> {
  app.get<{ Params: { slug: string } }>('/alerts/:slug', async (request, reply) => {
    const { slug } = request.params;
    const page = SLUG.test(slug) ? await site.alertPage(slug) : (await site.snapshots.get(), site.notFound());
    return sendPublicPage(ctx.config, request, reply, page);
  });

  app.get<{ Params: { slug: string; n: string } }>('/alerts/:slug/v/:n', async (request, reply) => {
    const { slug, n } = request.params;
    const valid = SLUG.test(slug) && /^[1-9]\d{0,5}$/.test(n);
    const page = valid ? await site.alertPage(slug, Number(n)) : (await site.snapshots.get(), site.notFound());
    return sendPublicPage(ctx.config, request, reply, page);
  });
}
