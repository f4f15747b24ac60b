import type { FastifyInstance } from 'fastify';
import { rendered } from './http-cache.js';
import type { PublicRouteOptions } from './route-options.js';
import { sendRendered } from './http-cache.js';

/** The pages' stylesheet, at an address that changes with its content, so it is cached for a year. */
export async function assetsRoute(app: FastifyInstance, { site }: PublicRouteOptions): Promise<void> {
  const css = rendered(site.renderer.css, 'text/css; charset=utf-8', new Date(0));
  app.get(site.renderer.cssHref, async (request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    return sendRendered(request, reply, css, 'public, max-age=31536000, immutable');
  });
}
