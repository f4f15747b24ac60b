import type { FastifyInstance } from 'fastify';
import { LEVELS, type Level } from '../domain/alert.js';
import { isCountryCode } from '../domain/countries.js';
import { feedResponse } from './feeds/feeds.js';
import type { PublicRouteOptions } from './route-options.js';
import { sendPublicData, sendPublicPage } from './respond.js';
import type { FeedFormat, FeedScope } from './urls.js';

const FILE = /^([A-Za-z]+)\.(atom|rss|json)$/;

/**
 * Atom, RSS and JSON Feed: /feeds/alerts.<ext> (everything), /feeds/countries/<CODE>.<ext> and
 * /feeds/levels/<level>.<ext> (that level and above). Served even when the pages are turned off.
 */
export async function feedRoutes(app: FastifyInstance, { ctx, site }: PublicRouteOptions): Promise<void> {
  const serve = async (
    scope: FeedScope | undefined,
    format: FeedFormat | undefined,
    request: Parameters<typeof sendPublicData>[1],
    reply: Parameters<typeof sendPublicData>[2],
  ) => {
    if (!scope || !format) return sendPublicPage(ctx.config, request, reply, site.notFound());
    return sendPublicData(ctx.config, request, reply, await feedResponse(site, ctx.config, scope, format));
  };

  app.get<{ Params: { file: string } }>('/feeds/:file', async (request, reply) => {
    const m = FILE.exec(request.params.file);
    return serve(m?.[1] === 'alerts' ? { kind: 'all' } : undefined, m?.[2] as FeedFormat, request, reply);
  });

  app.get<{ Params: { file: string } }>('/feeds/countries/:file', async (request, reply) => {
    const m = FILE.exec(request.params.file);
    return serve(m && isCountryCode(m[1]) ? { kind: 'country', code: m[1] } : undefined, m?.[2] as FeedFormat, request, reply);
  });

  app.get<{ Params: { file: string } }>('/feeds/levels/:file', async (request, reply) => {
    const m = FILE.exec(request.params.file);
    return serve(m && (LEVELS as readonly string[]).includes(m[1]) ? { kind: 'level', level: m[1] as Level } : undefined, m?.[2] as FeedFormat, request, reply);
  });
}
