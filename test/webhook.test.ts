import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { testContext, dropPrefix, waitFor } from './helpers/context.js';
import { storeAlert } from './helpers/fixtures.js';
import { startWorkers, type RunningWorkers } from '../workers/run.js';
import { buildAccounts } from '../src/channels/accounts.js';
import { verifySignature, SIGNATURE_HEADER } from '../src/channels/webhook.js';
import { publishAlert } from '../src/publish/publish.js';
import { alertStatus } from '../src/publish/status.js';
import { QUEUE } from '../src/queue/queues.js';
import type { Context } from '../src/context.js';

const SECRET = 'whsec-test-0123456789abcdef';

describe('signed webhooks', () => {
  let ctx: Context;
  let receiver: FastifyInstance;
  let workers: RunningWorkers;
  const received: Array<{ body: string; signature: string; idempotencyKey: string }> = [];
  let failuresToServe = 0;
  let rateLimitOnce = false;
  /** Every request to /hook: when it arrived and what it was answered. */
  const requests: Array<{ at: number; status: number }> = [];

  beforeAll(async () => {
    receiver = Fastify();
    receiver.addContentTypeParser('application/json', { parseAs: 'string' }, (_r, body, done) => done(null, body));
    receiver.post('/hook', async (request, reply) => {
      const at = Date.now();
      if (rateLimitOnce) {
        rateLimitOnce = false;
        requests.push({ at, status: 429 });
        return reply.code(429).header('retry-after', '1').send('slow down');
      }
      if (failuresToServe > 0) {
        failuresToServe--;
        requests.push({ at, status: 503 });
        return reply.code(503).send('maintenance');
      }
      requests.push({ at, status: 200 });
      received.push({
        body: request.body as string,
        signature: String(request.headers[SIGNATURE_HEADER]),
        idempotencyKey: String(request.headers['idempotency-key']),
      });
      return reply.code(200).header('x-request-id', `req-${received.length}`).send({ ok: true });
    });
    receiver.post('/gone', async (_request, reply) => reply.code(410).send('this endpoint was removed'));
    await receiver.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(receiver.server.address() as { port: number }).port}`;
    ctx = await testContext('webhook', {
      email: { enabled: false },
      webhooks: [
        { id: 'partner-hook', url: `${base}/hook`, secretEnv: 'PARTNER_HOOK_SECRET' },
        { id: 'old-hook', url: `${base}/gone` },
      ],
    });
    workers = startWorkers(ctx, await buildAccounts(ctx.config, ctx.providers, { PARTNER_HOOK_SECRET: SECRET }));
  });
  afterAll(async () => {
    await workers.close();
    await dropPrefix(ctx);
    await ctx.close();
    await receiver.close();
  });

  it('posts the alert as JSON signed with HMAC-SHA256 over timestamp and body, retrying 5xx and waiting out 429', async () => {
    failuresToServe = 2;
    rateLimitOnce = true;
    const alert = await storeAlert(ctx);
    await publishAlert(ctx, alert.id);
    const report = await waitFor(async () => {
      const r = await alertStatus(ctx, alert.id);
      return r.complete ? r : undefined;
    }, 'webhook deliveries to finish');

    expect(received).toHaveLength(1);
    const [delivery] = received;
    expect(verifySignature(SECRET, delivery.body, delivery.signature)).toBe(true);
    expect(verifySignature('wrong-secret', delivery.body, delivery.signature)).toBe(false);
    expect(verifySignature(SECRET, delivery.body.replace('Kazakhstan', 'Kazakstan'), delivery.signature)).toBe(false);
    const payload = JSON.parse(delivery.body);
    expect(payload).toMatchObject({ type: 'alert.published', id: alert.id, level: 'emergency', countries: ['KZ'], title: alert.title });
    expect(payload.stages.map((s: { name: string }) => s.name)).toEqual(['Dehumanization', 'Preparation', 'Persecution']);
    expect(delivery.idempotencyKey).toBe(`tocsin-${alert.id}-partner-hook`);

    expect(report.counts.channels['partner-hook']).toMatchObject({ sent: 1, failed: 0 });
    const entry = await ctx.ledger.get(alert.id, 'partner-hook', 'post');
    expect(entry).toMatchObject({ state: 'sent', providerId: 'req-1', attempts: 4 });

    // Four requests, no more: the 429, two 503s retried, and the one that was accepted.
    expect(requests.map((r) => r.status)).toEqual([429, 503, 503, 200]);
    // The 429 said "Retry-After: 1": nothing was sent again before that second was up. (The
    // 5 ms allow for the millisecond rounding of timers; the wait itself is 1,000 ms.)
    expect(requests[1].at - requests[0].at).toBeGreaterThanOrEqual(995);
    // Waiting out a 429 spends no attempt: BullMQ counts the two 503s and the success only.
    const jobs = await ctx.queues.get(QUEUE.account('partner-hook')).getJobs(['completed']);
    const job = jobs.find((j) => j.data.alertId === alert.id);
    expect(job?.attemptsMade).toBe(3);

    // A 410 is permanent: failed at once with the receiver's answer, and the alert is still finished.
    expect(report.counts.channels['old-hook']).toMatchObject({ failed: 1, sent: 0 });
    expect(report.problems.find((p) => p.channel === 'old-hook')?.error).toMatch(/HTTP 410: this endpoint was removed/);
    expect(report.alert.status).toBe('published');
    expect((await ctx.health.get('old-hook')).consecutiveFailures).toBe(1);
  });

  it('rejects a stale signature even when the HMAC is right', () => {
    const body = '{"type":"alert.published"}';
    const old = Math.floor(Date.now() / 1000) - 3600;
    const header = `t=${old},v1=${createHmac('sha256', SECRET).update(`${old}.${body}`).digest('hex')}`;
    expect(verifySignature(SECRET, body, header)).toBe(false);
  });
});
