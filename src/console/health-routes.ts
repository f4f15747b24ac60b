import type { FastifyInstance } from 'fastify';
import { QUEUE } from '../queue/jobs.js';
import { checkChannels } from '../channels/check.js';
import { probeRedisWrites, redisWriteProblem } from '../store/redis-writes.js';
import { EMAIL_CHANNEL } from '../publish/rendered.js';
import { redirectWithNotice, sendPage, type ConsoleDeps } from './deps.js';

// BullMQ 6 has no 'paused' state: a paused queue keeps its jobs in 'waiting'.
const COUNTED = ['waiting', 'active', 'delayed', 'prioritized', 'failed'] as const;

/** Channel health: last credential check, last success, failure run, and the queue behind each. */
export async function healthRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { ctx, accounts } = deps;
  const threshold = ctx.config.console.failureWarningThreshold;

  const queueDepth = async (name: string) => {
    const c = await ctx.queues.get(name).getJobCounts(...COUNTED);
    return { ...c, depth: (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) };
  };

  app.get('/console/health', { config: { role: 'viewer' } }, async (request, reply) => {
    const [health, writes] = await Promise.all([ctx.health.all(), probeRedisWrites(ctx.redis, ctx.keys)]);
    const list = [
      ...(ctx.config.email.enabled ? [{ channel: EMAIL_CHANNEL, provider: 'smtp', queue: QUEUE.email }] : []),
      ...[...accounts.values()]
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((a) => ({ channel: a.id, provider: ctx.providers.get(a.provider)?.label ?? a.provider, queue: QUEUE.account(a.id) })),
    ];
    const channels = await Promise.all(
      list.map(async (c) => {
        const h = health[c.channel] ?? { consecutiveFailures: 0 };
        return { ...c, health: h, warn: h.consecutiveFailures >= threshold, queueCounts: await queueDepth(c.queue) };
      }),
    );
    const queues = await Promise.all([QUEUE.publish, QUEUE.schedule].map(async (name) => ({ name, counts: await queueDepth(name) })));
    return sendPage(
      deps,
      request,
      reply,
      'health',
      'Channel health',
      {
        channels: channels.map((c) => ({ ...c, paused: c.health.pausedUntil && Date.parse(c.health.pausedUntil) > Date.now() ? c.health : undefined })),
        queues,
        threshold,
        warnings: channels.filter((c) => c.warn).length,
        redisProblem: redisWriteProblem(writes),
        signingWarning: ctx.signing.development
          ? `Alerts are signed with a DEVELOPMENT key generated into Redis, because ${ctx.config.signing.signingKeyEnv} is not set. Run "tocsin keys generate" and set the variables it prints before going public.`
          : !ctx.signing.enabled
            ? 'Alert signing is turned off (signing.enabled: false): nobody can tell published alerts from forgeries.'
            : undefined,
      },
      { nav: 'health' },
    );
  });

  app.post('/console/health/check', { config: { role: 'editor' } }, async (_request, reply) => {
    await checkChannels(ctx, accounts);
    return redirectWithNotice(reply, '/console/health', 'checked');
  });
}
