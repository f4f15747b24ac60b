import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testContext, dropPrefix, waitFor } from './helpers/context.js';
import { storeAlert } from './helpers/fixtures.js';
import { FakeX } from './fakes/x.js';
import { FakeMastodon } from './fakes/mastodon.js';
import { FakeTelegram } from './fakes/telegram.js';
import { startWorkers, type RunningWorkers } from '../workers/run.js';
import { createAccountChannels } from '../src/channels/accounts.js';
import { publishAlert } from '../src/publish/publish.js';
import { alertStatus } from '../src/publish/status.js';
import { QUEUE } from '../src/queue/queues.js';
import { jobIds } from '../src/queue/jobs.js';
import type { Context } from '../src/context.js';
import { cliEnv, runCli } from './helpers/cli.js';
import { exampleAlertSource } from './helpers/fixtures.js';
import { redisBackends } from './helpers/redis-topology.js';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The social adapters through the whole pipeline: publish worker, one queue per account, ledger.

const X_KEYS = { appKey: 'app-key-1', appSecret: 'app-secret-1', accessToken: '1490000000000000001-token', accessSecret: 'access-secret-1' };

// The same flow on the suite's single Redis and on a real 3-master Redis Cluster.
describe.each(redisBackends())('posting an alert to social accounts through their queues (Redis: $name)', (backend) => {
  let ctx: Context;
  let workers: RunningWorkers;
  let x: FakeX;
  let mastodon: FakeMastodon;
  let telegram: FakeTelegram;
  let env: Record<string, string>;

  beforeAll(async () => {
    const redis = await backend.start();
    x = await new FakeX().start();
    x.oauth1 = X_KEYS;
    mastodon = await new FakeMastodon().start();
    telegram = await new FakeTelegram().start();
    ctx = await testContext('social', {
      redis,
      email: { enabled: false },
      social: [
        {
          id: 'x-main',
          provider: 'x',
          baseUrl: x.url,
          credentialsEnv: { appKey: 'XK', appSecret: 'XS', accessToken: 'XT', accessSecret: 'XA' },
          options: { timeoutMs: 1500 },
        },
        { id: 'masto', provider: 'mastodon', baseUrl: mastodon.url, credentialsEnv: { accessToken: 'MT' }, options: { timeoutMs: 1500 } },
        { id: 'tg', provider: 'telegram', baseUrl: telegram.url, credentialsEnv: { botToken: 'TG' }, options: { chatId: '@tocsin_test', timeoutMs: 1500 } },
      ],
    });
    env = { XK: X_KEYS.appKey, XS: X_KEYS.appSecret, XT: X_KEYS.accessToken, XA: X_KEYS.accessSecret, MT: mastodon.token, TG: telegram.token };
    workers = startWorkers(ctx, await createAccountChannels(ctx, env));
  });
  afterAll(async () => {
    await workers.close();
    await dropPrefix(ctx);
    await ctx.close();
    await Promise.all([x.close(), mastodon.close(), telegram.close()]);
    await backend.stop();
  });

  const finished = (alertId: string) =>
    waitFor(
      async () => {
        const r = await alertStatus(ctx, alertId);
        return r.complete ? r : undefined;
      },
      'every account to have an outcome',
      30_000,
    );

  it('a 429 on X holds only X until its reset, spends no attempt, then posts; the others post at once', async () => {
    const reset = Math.floor(Date.now() / 1000) + 2;
    x.tweetScript.on(1, {
      status: 429,
      headers: { 'x-rate-limit-remaining': '0', 'x-rate-limit-reset': String(reset) },
      body: { title: 'Too Many Requests', status: 429 },
    });
    const alert = await storeAlert(ctx, { image: undefined });
    await publishAlert(ctx, alert.id);

    await waitFor(async () => mastodon.statuses.length > 0 && telegram.messages.length > 0, 'Mastodon and Telegram posts');
    expect(x.tweets).toHaveLength(0);
    const xEntry = await ctx.ledger.get(alert.id, 'x-main', 'post');
    expect(xEntry?.state).toBe('retrying');
    expect(xEntry?.error).toMatch(/rate limited/);
    expect(xEntry?.retryAt).toBeGreaterThanOrEqual(reset * 1000 - 1000);

    const report = await finished(alert.id);
    expect(Date.now()).toBeGreaterThanOrEqual(reset * 1000);
    expect(report.counts.totals).toMatchObject({ sent: 3, failed: 0, unknown: 0 });
    expect(x.tweets.length).toBeGreaterThan(0);
    // The ledger's outcome is recorded inside the job, a moment before BullMQ marks it completed.
    // Read again once completed: a job read while still active holds the attempts of then.
    const xQueue = ctx.queues.get(QUEUE.account('x-main'));
    const job = await waitFor(async () => {
      const j = await xQueue.getJob(jobIds.accountPost(alert.id));
      return (await j?.getState()) === 'completed' ? xQueue.getJob(jobIds.accountPost(alert.id)) : undefined;
    }, 'the X job to complete');
    // BullMQ counts the completing run as one attempt; the rate-limited run was not counted,
    // although the ledger saw two tries.
    expect(job?.attemptsMade).toBe(1);
    expect((await ctx.ledger.get(alert.id, 'x-main', 'post'))?.attempts).toBe(2);

    // The ledger keeps the provider's id and URL of the first part.
    const sent = await ctx.ledger.get(alert.id, 'masto', 'post');
    expect(sent?.providerId).toBe(mastodon.statuses[0].id);
    expect(sent?.url).toMatch(/^http/);
  });

  it('a timeout after the provider stored the post: found on X and Mastodon, `unknown` on Telegram, never re-posted', async () => {
    const before = { x: x.tweets.length, m: mastodon.statuses.length, t: telegram.messages.length };
    x.tweetScript.on(1, { hangAfterStore: true });
    mastodon.statusScript.on(1, { hangAfterStore: true });
    telegram.sendScript.on(1, { hangAfterStore: true });
    const alert = await storeAlert(ctx, {
      image: undefined,
      countries: ['SD'],
      title: 'Genocide Warning: Sudan, El Fasher',
      summary: 'Attacks on El Fasher and the camps around it have intensified; civilians cannot leave.',
    });
    await publishAlert(ctx, alert.id);
    const report = await finished(alert.id);

    expect(report.counts.channels['x-main'].sent).toBe(1);
    expect(report.counts.channels.masto.sent).toBe(1);
    expect(report.counts.channels.tg.unknown).toBe(1);
    expect(report.problems.find((p) => p.channel === 'tg')?.error).toBe(
      'the post may have been made before its answer was lost, and telegram offers no way to look it up',
    );
    // Each provider holds exactly the parts of one thread: nothing was posted twice.
    const threadLength = (await ctx.ledger.get(alert.id, 'x-main', 'post')) && x.tweets.length - before.x;
    const rendered = JSON.parse((await ctx.redis.get(ctx.keys.rendered(alert.id, 'x-main')))!);
    expect(threadLength).toBe(rendered.parts.length);
    const mRendered = JSON.parse((await ctx.redis.get(ctx.keys.rendered(alert.id, 'masto')))!);
    expect(mastodon.statuses.length - before.m).toBe(mRendered.parts.length);
    expect(telegram.messages.length - before.t).toBe(1);
  });

  it('`tocsin render --channel` prints each part with its length against the limit; `channels check` reports credentials', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tocsin-render-')), 'kz.md');
    writeFileSync(file, exampleAlertSource());
    const childEnv = cliEnv(ctx.config, env);
    const x = await runCli(['render', file, '--channel', 'x-main'], childEnv);
    expect(x.code).toBe(0);
    const headers = [...x.stdout.matchAll(/^--- part (\d+)\/(\d+) \(x\): (\d+)\/280/gm)];
    expect(headers.length).toBeGreaterThan(1);
    for (const h of headers) expect(Number(h[3])).toBeLessThanOrEqual(280);
    expect(x.stdout).toContain('https://example.org/alerts/kazakhstan-2022-01');
    const email = await runCli(['render', file, '--channel', 'email'], childEnv);
    expect(email.stdout).toMatch(/^Subject: Genocide Emergency Alert: Kazakhstan, January 2022/);
    expect(email.stdout).toMatch(/Stage 4 of 10: Dehumanization/);
    const unknown = await runCli(['render', file, '--channel', 'myspace'], childEnv);
    expect(unknown.stderr).toMatch(/No channel named "myspace"/);

    const check = await runCli(['channels', 'check'], { ...childEnv, TG: 'wrong-token' });
    expect(check.stdout).toMatch(/^ok {4}x-main/m);
    expect(check.stdout).toMatch(/^ok {4}masto/m);
    expect(check.stdout).toMatch(/^FAIL {2}tg/m);
    expect(check.code).toBe(1);
    expect((await ctx.health.get('tg')).lastCheck?.ok).toBe(false);
  });
});
