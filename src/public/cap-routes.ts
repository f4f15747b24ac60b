import type { FastifyInstance } from 'fastify';
import { capIndexResponse, capResponse } from './cap/cap-service.js';
import type { PublicRouteOptions } from './route-options.js';
import { sendPublicData, sendPublicPage } from './respond.js';

const SLUG_FILE = /^([a-z0-9]+(?:-[a-z0-9]+)*)\.xml$/;
const VERSION_FILE = /^v([1-9]\d{0,5})\.xml$/;

/**
 * CAP 1.2: /cap/index.atom (the newest message of each alert), /cap/<slug>.xml (its current
 * message) and /cap/<slug>/v<n>.xml (the message of version n). Served even with the pages off.
 */
export async function capRoutes(app: FastifyInstance, { ctx, site, signCap }: PublicRouteOptions): Promise<void> {
  app.get('/cap/index.atom', async (request, reply) => sendPublicData(ctx.config, request, reply, await capIndexResponse(site, ctx.config)));

  app.get<{ Params: { file: string } }>('/cap/:file', async (request, reply) => {
    const m = SLUG_FILE.exec(request.params.file);
    const message = m ? await capResponse(site, ctx.config, m[1], undefined, signCap) : undefined;
    return message ? sendPublicData(ctx.config, request, reply, message) : sendPublicPage(ctx.config, request, reply, site.notFound());
  });

  app.get<{ Params: { slug: string; file: string } }>('/cap/:slug/:file', async (request, reply) => {
    const m = VERSION_FILE.exec(request.params.file);
    const message = m ? await capResponse(site, ctx.config, request.params.slug, Number(m[1]), signCap) : undefined;
    return message ? sendPublicData(ctx.config, request, reply, message) : sendPublicPage(ctx.config, request, reply, site.notFound());
  });
}
