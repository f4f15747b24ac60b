import type { FastifyInstance } from 'fastify';
import { countryName } from '../domain/countries.js';
import { MIN_LEVELS, SUBSCRIBER_STATUSES } from '../domain/subscriber.js';
import { sendPage, type ConsoleDeps } from './deps.js';

/** Counts only: by status, and for confirmed subscribers by country and by lowest level. No addresses. */
export async function subscribersRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { ctx } = deps;

  app.get('/console/subscribers', { config: { role: 'viewer' } }, async (request, reply) => {
    const byStatus = Object.fromEntries(SUBSCRIBER_STATUSES.map((s) => [s, 0])) as Record<string, number>;
    const byLevel = Object.fromEntries(MIN_LEVELS.map((l) => [l, 0])) as Record<string, number>;
    const byCountry = new Map<string, number>();
    let allCountries = 0;
    let total = 0;
    for await (const sub of ctx.subscribers.scan()) {
      total++;
      byStatus[sub.status] = (byStatus[sub.status] ?? 0) + 1;
      if (sub.status !== 'confirmed') continue;
      byLevel[sub.minLevel] = (byLevel[sub.minLevel] ?? 0) + 1;
      if (sub.countries === '*') allCountries++;
      else for (const c of sub.countries) byCountry.set(c, (byCountry.get(c) ?? 0) + 1);
    }
    const levelNames: Record<string, string> = {
      all: 'Everything, including reports',
      watch: 'Watch and above',
      warning: 'Warning and above',
      emergency: 'Emergency only',
    };
    return sendPage(
      deps,
      request,
      reply,
      'subscribers',
      'Subscribers',
      {
        total,
        confirmed: byStatus.confirmed ?? 0,
        statuses: SUBSCRIBER_STATUSES.map((s) => ({ status: s, count: byStatus[s] ?? 0 })),
        levels: MIN_LEVELS.map((l) => ({ level: l, label: levelNames[l] ?? l, count: byLevel[l] ?? 0 })),
        allCountries,
        countries: [...byCountry.entries()]
          .map(([code, count]) => ({ code, name: countryName(code), count }))
          .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name)),
      },
      { nav: 'subscribers' },
    );
  });
}
