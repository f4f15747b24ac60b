import type { FastifyInstance } from 'fastify';
import { QUEUE } from '../queue/queues.js';
import { SCHEDULE_QUEUE } from '../publish/schedule.js';
import { createMailTransport } from '../channels/email/transport.js';
import type { HealthReport } from '../channels/types.js';
import { EMAIL_CHANNEL } from '../publish/rendered.js';
import { redirectWithNotice, sendPage, type ConsoleDeps } from './deps.js';

const CHECK_TIMEOUT_MS = 15_000;
// BullMQ 6 has no 'paused' state: a paused queue keeps its jobs in 'waiting'.
const COUNTED = ['waiting', 'active', 'delayed', 'prioritized', 'failed'] as const;

async function withTimeout(check: () => Promise<HealthReport>): Promise<HealthReport> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<HealthReport>((resolve) => {
    timer = setTimeout(
      () => resolve({ ok: false, checkedAt: new Date().toISOString(), detail: `no answer within ${CHECK_TIMEOUT_MS / 1000} s` }),
      CHECK_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([check().catch((err: Error) => ({ ok: false, checkedAt: new Date().toISOString(), detail: err.message })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Channel health: last credential check, last success, failure run, and the queue behind each. */
export async function healthRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { ctx, accounts } = deps;
  const threshold = ctx.config.console.failureWarningThreshold;

  const queueDepth = async (name: string) => {
    const c = await ctx.queues.get(name).getJobCounts(...COUNTED);
    return { ...c, depth: (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) };
  };

  app.get('/console/health', { config: { role: 'viewer' } }, async (request, reply) => {
    const health = await ctx.health.all();
    const list = [
      ...(ctx.config.email.enabled ? [{ channel: EMAIL_CHANNEL, provider: 'smtp', queue: QUEUE.email }] : []),
      ...[...accounts.values()].sort((a, b) => a.id.localeCompare(b.id)).map((a) => ({ channel: a.id, provider: a.provider, queue: QUEUE.account(a.id) })),
    ];
    const channels = await Promise.all(
      list.map(async (c) => {
        const h = health[c.channel] ?? { consecutiveFailures: 0 };
        return { ...c, health: h, warn: h.consecutiveFailures >= threshold, queueCounts: await queueDepth(c.queue) };
      }),
    );
    const queues = await Promise.all([QUEUE.publish, SCHEDULE_QUEUE].map(async (name) => ({ name, counts: await queueDepth(name) })));
    return sendPage(
      deps,
      request,
      reply,
      'health',
      'Channel health',
      { channels, queues, threshold, warnings: channels.filter((c) => c.warn).length },
      { nav: 'health' },
    );
  });

  app.post('/console/health/check', { config: { role: 'editor' } }, async (_request, reply) => {
    const checks: Array<Promise<void>> = [...accounts.values()].map(async (account) =>
      ctx.health.recordCheck(account.id, await withTimeout(() => account.checkHealth())),
    );
    if (ctx.config.email.enabled) {
      checks.push(
        (async () => {
          const transport = createMailTransport(ctx.config.email);
          const report = await withTimeout(async () => {
            await transport.verify();
            return {
              ok: true,
              checkedAt: new Date().toISOString(),
              detail: ctx.config.email.smtpUrl ? 'the SMTP server accepted a connection' : 'no SMTP_URL: mail goes to the outbox folder',
            };
          });
          transport.close();
          await ctx.health.recordCheck(EMAIL_CHANNEL, report);
        })(),
      );
    }
    await Promise.all(checks);
    return redirectWithNotice(reply, '/console/health', 'checked');
  });
}
