import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig, dropPrefix, waitFor } from './helpers/context.js';
import { createContext, type Context } from '../src/context.js';
import { createLogger } from '../src/log.js';
import { cliEnv, startCli, exited } from './helpers/cli.js';
import { storeAlert } from './helpers/fixtures.js';
import { publishAlert } from '../src/publish/publish.js';
import { BlackHole } from './fakes/black-hole.js';

// Issue 12: a provider that accepts the connection and never answers. Before, the Bluesky adapter's
// timeout was an AbortSignal.timeout inside AbortSignal.any, which garbage collection can drop
// on Node 20: the delivery stayed `sending` forever and blocked the account's queue. Here the
// worker runs with a full GC every 250 ms, and every provider must still give up in time.

const FORCE_GC = fileURLToPath(new URL('./helpers/force-gc.mjs', import.meta.url));
const timeouts = { timeoutMs: 1000 };

describe('every provider hangs after accepting the connection', () => {
  let ctx: Context;
  let hole: BlackHole;

  beforeAll(async () => {
    hole = await new BlackHole().start();
    ctx = await createContext(
      testConfig('hung', {
        email: { enabled: false },
        retry: { baseDelayMs: 60_000, maxDelayMs: 60_000, maxAttempts: 5 },
        webhooks: [
          { id: 'hook', url: `${hole.url}/hook`, timeoutMs: 1000 },
          { id: 'slack', url: `${hole.url}/slack`, format: 'slack', timeoutMs: 1000 },
        ],
        social: [
          {
            id: 'x',
            provider: 'x',
            baseUrl: hole.url,
            credentialsEnv: { appKey: 'K', appSecret: 'K', accessToken: 'K', accessSecret: 'K' },
            options: timeouts,
          },
          {
            id: 'masto',
            provider: 'mastodon',
            baseUrl: hole.url,
            credentialsEnv: { accessToken: 'K' },
            options: { ...timeouts, mediaProcessingTimeoutMs: 1000 },
          },
          { id: 'bsky', provider: 'bluesky', baseUrl: hole.url, credentialsEnv: { identifier: 'K', password: 'K' }, options: timeouts },
          { id: 'fb', provider: 'facebook', baseUrl: hole.url, credentialsEnv: { pageAccessToken: 'K' }, options: { ...timeouts, pageId: '104000000000001' } },
          { id: 'tg', provider: 'telegram', baseUrl: hole.url, credentialsEnv: { botToken: 'K' }, options: { ...timeouts, chatId: '@tocsin_test' } },
        ],
      }),
      { log: createLogger('silent') },
    );
  });
  afterAll(async () => {
    await dropPrefix(ctx);
    await ctx.close();
    await hole.close();
  });

  it('ends each delivery `unknown` or waiting for a retry, with a reason, and the worker still stops cleanly on SIGTERM', async () => {
    const env = cliEnv(ctx.config, { LOG_LEVEL: 'warn', K: 'not-a-real-credential-0123456789' });
    const worker = startCli(['worker'], env, ['--expose-gc', '--import', FORCE_GC]);
    try {
      const alert = await storeAlert(ctx, { image: undefined });
      await publishAlert(ctx, alert.id);
      const channels = ['hook', 'slack', 'x', 'masto', 'bsky', 'fb', 'tg'];
      let last: unknown[] = [];
      const settled = await waitFor(
        async () => {
          const entries = await Promise.all(channels.map((c) => ctx.ledger.get(alert.id, c, 'post')));
          last = entries.map((e, i) => `${channels[i]}: ${e?.state ?? 'none'}`);
          return entries.every((e) => e && e.state !== 'queued' && e.state !== 'sending') ? entries : undefined;
        },
        'every account to give up on the hung provider',
        // Generous: each deadline is a second, but a loaded machine starts the worker slowly.
        240_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message} (${last.join(', ')}; worker output: ${worker.output().slice(-2000)})`, { cause: err });
      });
      const outcome = Object.fromEntries(channels.map((c, i) => [c, settled[i]!.state]));
      console.log(`hung providers: ${channels.map((c, i) => `${c} ${settled[i]!.state} (${settled[i]!.error})`).join('; ')}`);
      for (const [channel, state] of Object.entries(outcome)) expect(['unknown', 'retrying'], channel).toContain(state);
      for (const entry of settled) expect(entry!.error).toMatch(/did not finish within|timed out|ETIMEDOUT|may have been made/);
      // A post that may have reached the provider is never sent again blindly.
      expect(outcome.tg).toBe('unknown');
      expect(outcome.slack).toBe('unknown');
      expect(hole.connections).toBeGreaterThanOrEqual(channels.length);
    } finally {
      worker.kill('SIGTERM');
      expect(await exited(worker)).toBe(0);
    }
  }, 300_000);
});
