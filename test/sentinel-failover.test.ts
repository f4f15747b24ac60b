import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig, waitFor } from './helpers/context.js';
import { createContext, type Context } from '../src/context.js';
import { createLogger } from '../src/log.js';
import { TestSmtpServer } from './helpers/smtp.js';
import { seedSubscribers, storeAlert } from './helpers/fixtures.js';
import { cliEnv, startCli, exited, killTree } from './helpers/cli.js';
import { startRedisSentinel, type StartedSentinel } from './helpers/redis-topology.js';
import { publishAlert } from '../src/publish/publish.js';
import { alertStatus } from '../src/publish/status.js';

// Redis Sentinel: the primary is killed with SIGKILL in the middle of a 5,000-recipient send.
// The sentinels promote the replica; the worker's and this test's clients find the new primary
// through them. The ledger's claim and outcome writes WAIT for the replica (redis.waitReplicas,
// 1 by default behind Sentinel), so the promotion loses none that a sender acted on.

const N = 5000;
const BATCH_JOBS = 2;
const SEND_CONCURRENCY = 10;

describe('a Sentinel failover in the middle of a 5,000-recipient send', () => {
  let ctx: Context;
  let smtp: TestSmtpServer;
  let redis: StartedSentinel;

  beforeAll(async () => {
    redis = await startRedisSentinel();
    smtp = await new TestSmtpServer().start();
    const config = testConfig('sentinel', {
      redis: { sentinel: { sentinels: redis.sentinels, name: redis.name } },
      email: { smtpUrl: smtp.url, batchSize: 200, concurrency: BATCH_JOBS, sendConcurrency: SEND_CONCURRENCY },
    });
    ctx = await createContext(config, { log: createLogger('silent') });
  }, 120_000);
  afterAll(async () => {
    try {
      // Never let a stuck close keep the Redis processes alive past the file.
      await Promise.race([ctx?.close(), new Promise((r) => setTimeout(r, 15_000))]);
      await smtp?.stop();
    } finally {
      await redis?.stop();
    }
  });

  it('ends with every recipient sent, duplicates within what was in flight, and reports the stall', async () => {
    const ids = await seedSubscribers(ctx, N);
    expect(ids).toHaveLength(N);
    const alert = await storeAlert(ctx, { level: 'emergency' });
    // When each message arrived (end of DATA), to measure how long sending stalled.
    const arrivals: number[] = [];
    smtp.behaviour.holdData = () => {
      arrivals.push(Date.now());
      return undefined;
    };

    const worker = startCli(['worker'], cliEnv(ctx.config, { LOG_LEVEL: 'warn' }));
    try {
      await publishAlert(ctx, alert.id);
      await waitFor(async () => smtp.received.length >= N * 0.4, 'two fifths of the mail to arrive', 90_000, 5);
      const killedAt = Date.now();
      await redis.procs.kill(redis.primary);
      const atKill = smtp.received.length;

      const report = await waitFor(
        async () => {
          const r = await alertStatus(ctx, alert.id);
          return r.complete ? r : undefined;
        },
        'every recipient to have an outcome after the failover',
        120_000,
        200,
      );
      expect(report.alert.status).toBe('published');
      expect(report.counts.channels.email.sent).toBe(N);
      expect(report.counts.totals.failed + report.counts.totals.unknown).toBe(0);
      const entries = await ctx.ledger.getMany(alert.id, 'email', ids.map(String));
      expect(entries.filter((e) => e?.state !== 'sent')).toEqual([]);

      // The new primary is the old replica.
      const role = String(await ctx.redis.call('ROLE')).split(',')[0];
      expect(role).toBe('master');

      const recipients = smtp.recipients();
      const unique = new Set(recipients);
      expect(unique.size).toBe(N);
      const duplicates = recipients.length - unique.size;
      // Every claim and outcome the worker acted on was on the replica before it went on (WAIT),
      // so what can be sent twice is what was in flight when the primary died: at most one
      // message per concurrent sender in each batch job running at once.
      const bound = BATCH_JOBS * SEND_CONCURRENCY;
      const after = arrivals.filter((t) => t >= killedAt);
      let stall = 0;
      for (let i = 0, prev = killedAt; i < after.length; prev = after[i], i++) stall = Math.max(stall, after[i] - prev);
      console.log(
        `sentinel failover: ${atKill} delivered before the primary was killed, stall ${stall} ms (longest gap between two messages after the kill), ` +
          `${duplicates} duplicate(s) (bound ${bound}), ${report.counts.channels.email.sent} sent`,
      );
      expect(duplicates).toBeLessThanOrEqual(bound);
    } finally {
      smtp.behaviour.holdData = undefined;
      killTree(worker, 'SIGTERM');
      await exited(worker);
    }
  }, 300_000);
});
