import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testContext, dropPrefix, waitFor } from '../helpers/context.js';
import { storeAlert } from '../helpers/fixtures.js';
import { FakeMastodon } from '../fakes/mastodon.js';
import { startWorkers, type RunningWorkers } from '../../workers/run.js';
import { createAccountChannels } from '../../src/channels/accounts.js';
import { publishAlert } from '../../src/publish/publish.js';
import { alertStatus } from '../../src/publish/status.js';
import { QUEUE } from '../../src/queue/queues.js';
import type { Context } from '../../src/context.js';
import type { Alert } from '../../src/domain/alert.js';

// The emergency lane on an account queue: posts wait in the account's queue (its worker is not
// running yet, as when the account is busy or rate limited); an emergency published last is
// posted first once the account's worker takes jobs again.

describe('an emergency post on an account queue with routine posts waiting', () => {
  let ctx: Context;
  let mastodon: FakeMastodon;
  let env: Record<string, string>;
  const running: RunningWorkers[] = [];

  beforeAll(async () => {
    mastodon = await new FakeMastodon().start();
    ctx = await testContext('lane-social', {
      email: { enabled: false },
      social: [{ id: 'masto', provider: 'mastodon', baseUrl: mastodon.url, credentialsEnv: { accessToken: 'MT' }, options: { timeoutMs: 5000 } }],
    });
    env = { MT: mastodon.token };
  });
  afterAll(async () => {
    await Promise.all(running.map((w) => w.close()));
    await dropPrefix(ctx);
    await ctx.close();
    await mastodon.close();
  });

  it('is posted before the routine posts queued ahead of it', async () => {
    // Fan-out only: the publish worker queues each alert's post on the account's queue.
    running.push(startWorkers(ctx, await createAccountChannels(ctx, env), { queues: [QUEUE.publish] }));
    const routine: Alert[] = [];
    for (const [i, level] of (['watch', 'warning', 'watch'] as const).entries())
      routine.push(await storeAlert(ctx, { image: undefined, level, title: `Routine ${i}: ${level}` }));
    for (const alert of routine) await publishAlert(ctx, alert.id);
    const emergency = await storeAlert(ctx, { image: undefined, level: 'emergency', title: 'Emergency: act now' });
    await publishAlert(ctx, emergency.id);
    const queue = ctx.queues.get(QUEUE.account('masto'));
    await waitFor(async () => (await queue.getPrioritizedCount()) === 4, 'four posts waiting on the account queue', 30_000);

    running.push(startWorkers(ctx, await createAccountChannels(ctx, env), { queues: [QUEUE.account('masto')] }));
    await waitFor(
      async () => {
        for (const a of [...routine, emergency]) if (!(await alertStatus(ctx, a.id)).complete) return false;
        return true;
      },
      'every post to be made',
      60_000,
    );
    // Each alert's thread starts with its title; the order of first parts is the order of posting.
    const firsts = mastodon.statuses.filter((s) => s.in_reply_to_id === null).map((s) => s.text);
    console.log(`emergency lane (account queue): posted in the order ${firsts.map((t) => t.split('\n')[0].slice(0, 30)).join(' | ')}`);
    expect(firsts).toHaveLength(4);
    expect(firsts[0]).toContain('Emergency: act now');
    // The routine posts keep their order: warning before watch, then first come first served.
    expect(firsts[1]).toContain('Routine 1');
    expect(firsts[2]).toContain('Routine 0');
    expect(firsts[3]).toContain('Routine 2');
  });
});
