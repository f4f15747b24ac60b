import type { FastifyInstance } from 'fastify';
import type { PublicRouteOptions } from './route-options.js';
import { sendPublicPage } from './respond.js';

/** GET / : the organisation, the newest alerts, a subscribe box and the feeds. */
export async function homeRoute(app: FastifyInstance, { ctx, site }: PublicRouteOptions): Promise<void> {
  app.get('/', async (request, reply) => sendPublicPage(ctx.config, request, reply, await site.homePage()));
}
