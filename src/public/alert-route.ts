import type { FastifyInstance } from 'fastify';
import type { PublicRouteOptions } from './route-options.js';
import { sendPublicData, sendPublicPage } from './respond.js';
import { SIGNED_FILE, SIGNED_VERSION_FILE, signedFile } from './signed-files.js';

const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * GET /alerts/:slug and /alerts/:slug/v/:n, and their signed .json and .sig files (served even
 * with the pages off: `pages` false). Only the public index is consulted: an address that
 * is not a published alert gets the one 404 page, by the same path, whatever is stored under it.
 */
export async function alertRoute(app: FastifyInstance, { ctx, site }: PublicRouteOptions, pages = true): Promise<void> {
  app.get<{ Params: { slug: string } }>('/alerts/:slug', async (request, reply) => {
    const { slug } = request.params;
    const file = SIGNED_FILE.exec(slug);
    const signed = file ? await signedFile(site, file[1], undefined, file[2] as 'json' | 'sig') : undefined;
    if (signed) return sendPublicData(ctx.config, request, reply, signed);
    if (file || !pages) return sendPublicPage(ctx.config, request, reply, (await site.snapshots.get(), site.notFound()));
    const page = SLUG.test(slug) ? await site.alertPage(slug) : (await site.snapshots.get(), site.notFound());
    return sendPublicPage(ctx.config, request, reply, page);
  });

  app.get<{ Params: { slug: string; n: string } }>('/alerts/:slug/v/:n', async (request, reply) => {
    const { slug, n } = request.params;
    const file = SIGNED_VERSION_FILE.exec(n);
    const signed = file && SLUG.test(slug) ? await signedFile(site, slug, Number(file[1]), file[2] as 'json' | 'sig') : undefined;
    if (signed) return sendPublicData(ctx.config, request, reply, signed);
    if (file || !pages) return sendPublicPage(ctx.config, request, reply, (await site.snapshots.get(), site.notFound()));
    const valid = SLUG.test(slug) && /^[1-9]\d{0,5}$/.test(n);
    const page = valid ? await site.alertPage(slug, Number(n)) : (await site.snapshots.get(), site.notFound());
    return sendPublicPage(ctx.config, request, reply, page);
  });
}
