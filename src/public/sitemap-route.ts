import type { FastifyInstance } from 'fastify';
import { rendered } from './http-cache.js';
import type { PublicRouteOptions } from './route-options.js';
import { sendPublicData } from './respond.js';
import { serialise, textElement, xmlDocument } from './xml.js';

const SITEMAP_NS = 'http://www.sitemaps.org/schemas/sitemap/0.9';

/**
 * /sitemap.xml (the home page, the archive, every published alert and every country with one) and
 * /robots.txt, which keeps crawlers out of the console, the API and personal links. With the pages
 * turned off there is no sitemap, and robots.txt names none.
 */
export async function sitemapRoutes(app: FastifyInstance, { ctx, site }: PublicRouteOptions): Promise<void> {
  const enabled = ctx.config.public.site.enabled;
  const robots = [
    'User-agent: *',
    'Disallow: /console',
    'Disallow: /admin/',
    'Disallow: /api/',
    'Disallow: /metrics',
    'Disallow: /subscribe/confirm/',
    'Disallow: /unsubscribe/',
    'Disallow: /preferences/',
    'Allow: /',
    ...(enabled ? [`Sitemap: ${site.urls.sitemap()}`] : []),
    '',
  ].join('\n');
  const robotsResponse = rendered(robots, 'text/plain; charset=utf-8', new Date(0));
  app.get('/robots.txt', async (request, reply) => sendPublicData(ctx.config, request, reply, robotsResponse));

  if (!enabled) return;
  app.get('/sitemap.xml', async (request, reply) => {
    const { snapshot, entries } = await site.entries();
    const value = await site.cache.get('sitemap', snapshot.generation, () => {
      const urlset = xmlDocument().ele(SITEMAP_NS, 'urlset');
      const add = (loc: string, lastmod?: string) => {
        const url = urlset.ele('url');
        textElement(url, 'loc', loc);
        if (lastmod) textElement(url, 'lastmod', lastmod);
      };
      const newest = entries.reduce((max, e) => (e.updatedAt > max ? e.updatedAt : max), '');
      add(site.urls.home(), newest || undefined);
      add(site.urls.archive(), newest || undefined);
      const countries = new Map<string, string>();
      for (const e of entries) {
        add(site.urls.alert(e.slug), e.updatedAt);
        for (const c of e.countries) if ((countries.get(c) ?? '') < e.updatedAt) countries.set(c, e.updatedAt);
      }
      for (const [code, lastmod] of [...countries].sort()) add(site.urls.country(code), lastmod);
      return rendered(serialise(urlset), 'application/xml; charset=utf-8', snapshot.lastModified);
    });
    return sendPublicData(ctx.config, request, reply, value);
  });
}
