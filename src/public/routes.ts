import type { FastifyError, FastifyInstance } from 'fastify';
import type { Context } from '../context.js';
import { backfillVersions } from '../publish/versions.js';
import { unsigned, type CapSigner } from './cap/cap-message.js';
import { PublicSite, HTML } from './site.js';
import { rendered } from './http-cache.js';
import { sendPublicPage } from './respond.js';
import { homeRoute } from './home-route.js';
import { archiveRoute } from './archive-route.js';
import { alertRoute } from './alert-route.js';
import { countryRoute } from './country-route.js';
import { feedRoutes } from './feed-routes.js';
import { capRoutes } from './cap-routes.js';
import { sitemapRoutes } from './sitemap-route.js';
import { assetsRoute } from './assets-route.js';
import { wellKnownRoutes } from './well-known-routes.js';
import { verifyRoutes } from './verify-routes.js';
import { signCapXml } from '../signing/cap-signer.js';

import type { PublicRouteOptions } from './route-options.js';
export type { PublicRouteOptions } from './route-options.js';

/**
 * The public record (README "The public record"): pages, feeds, CAP, sitemap and robots.txt. With
 * `public.site.enabled: false` the HTML pages are not served; feeds, CAP and robots.txt still are.
 */
export async function publicRoutes(app: FastifyInstance, options: { ctx: Context; signCap?: CapSigner }): Promise<void> {
  const { ctx } = options;
  const site = new PublicSite(ctx);
  const cap = ctx.signing.cap;
  const opts: PublicRouteOptions = { ctx, site, signCap: options.signCap ?? (cap ? (xml) => signCapXml(xml, cap) : unsigned) };

  // Alerts published before versions existed become version 1 (and lost index writes are redone).
  app.addHook('onReady', async () => {
    try {
      const { added, reindexed } = await backfillVersions(ctx);
      if (added || reindexed) ctx.log.info({ added, reindexed }, 'public record: versions backfilled');
    } catch (err) {
      ctx.log.error({ err }, 'public record: could not backfill versions');
    }
  });

  await app.register(feedRoutes, opts);
  await app.register(capRoutes, opts);
  await app.register(sitemapRoutes, opts);
  await app.register(wellKnownRoutes, opts);
  // /verify answers in its own page and /api/verify in JSON, so they sit outside the pages' scope.
  await app.register((scope, o: PublicRouteOptions) => verifyRoutes(scope, o, ctx.config.public.site.enabled), opts);
  // With the pages off, the signed .json and .sig files are still served.
  if (!ctx.config.public.site.enabled) return app.register((scope, o: PublicRouteOptions) => alertRoute(scope, o, false), opts);

  await app.register(async (pages) => {
    // A bad filter or page link gets a page that says what is wrong, not JSON.
    pages.setErrorHandler((error: FastifyError, request, reply) => {
      const status = error.statusCode ?? 500;
      if (!error.code?.startsWith('TOCSIN_ERR_') || status >= 500) throw error;
      const html = site.renderer.render('not-found', {
        title: 'That did not work',
        head: { description: error.message, canonical: site.urls.home(), ogTitle: 'That did not work', ogType: 'website', alternates: [], jsonLd: '{}' },
        content: { heading: 'That did not work', message: `${error.message} (${error.code})` },
      });
      return sendPublicPage(ctx.config, request, reply, rendered(html, HTML, new Date(0), { status }));
    });
    await pages.register(assetsRoute, opts);
    await pages.register(homeRoute, opts);
    await pages.register(archiveRoute, opts);
    await pages.register(alertRoute, opts);
    await pages.register(countryRoute, opts);
  });
}
