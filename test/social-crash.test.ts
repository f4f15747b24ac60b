import { afterEach, describe, expect, it } from 'vitest';
import { testConfig, dropPrefix, waitFor } from './helpers/context.js';
import { createContext, type Context } from '../src/context.js';
import { createLogger } from '../src/log.js';
import { cliEnv, startCli, exited } from './helpers/cli.js';
import { buildAccounts } from '../src/channels/accounts.js';
import { publishAlert } from '../src/publish/publish.js';
import { alertStatus } from '../src/publish/status.js';
import { alertWithParts } from './social/helpers.js';
import { FakeX } from './fakes/x.js';
import { FakeMastodon } from './fakes/mastodon.js';
import { BSKY_HANDLE, FakeBluesky } from './fakes/bluesky.js';
import { FakeFacebook, PAGE_ID } from './fakes/facebook.js';
import { FakeTelegram } from './fakes/telegram.js';
import type { Script } from './fakes/server.js';

// Issue 12: kill -9 in the middle of a 4-part thread, while the provider has stored part 3 and
// not yet answered, then start a new worker. No part may be posted twice; the thread completes
// wherever the provider lets us find or safely repeat part 3; otherwise the delivery is `unknown`
// with a reason that status shows.

interface Fake {
  url: string;
  close(): Promise<void>;
}

interface Case<F extends Fake> {
  start(): Promise<F>;
  account(fake: F): Record<string, unknown>;
  env(fake: F): Record<string, string>;
  script(fake: F): Script;
  /** Posts of this thread the fake holds. */
  posts(fake: F): number;
  /** Characters per recommendation, so that 4 parts need only a few of them. */
  recChars: number;
  expected: 'sent' | 'unknown';
}

const X_KEYS = { appKey: 'app-key-1', appSecret: 'app-secret-1', accessToken: '1490000000000000001-token', accessSecret: 'access-secret-1' };
const timeouts = { timeoutMs: 1500 };

const cases: Record<string, Case<Fake>> = {
  x: {
    start: async () => Object.assign(await new FakeX().start(), { oauth1: X_KEYS }),
    account: (f) => ({
      provider: 'x',
      baseUrl: f.url,
      credentialsEnv: { appKey: 'XK', appSecret: 'XS', accessToken: 'XT', accessSecret: 'XA' },
      options: timeouts,
    }),
    env: () => ({ XK: X_KEYS.appKey, XS: X_KEYS.appSecret, XT: X_KEYS.accessToken, XA: X_KEYS.accessSecret }),
    script: (f) => (f as FakeX).tweetScript,
    posts: (f) => (f as FakeX).tweets.length,
    recChars: 200,
    expected: 'sent',
  },
  mastodon: {
    start: () => new FakeMastodon().start(),
    account: (f) => ({ provider: 'mastodon', baseUrl: f.url, credentialsEnv: { accessToken: 'MT' }, options: timeouts }),
    env: (f) => ({ MT: (f as FakeMastodon).token }),
    script: (f) => (f as FakeMastodon).statusScript,
    posts: (f) => (f as FakeMastodon).statuses.length,
    recChars: 400,
    expected: 'sent',
  },
  bluesky: {
    start: () => new FakeBluesky().start(),
    account: (f) => ({ provider: 'bluesky', baseUrl: f.url, credentialsEnv: { identifier: 'BI', password: 'BP' }, options: timeouts }),
    env: (f) => ({ BI: BSKY_HANDLE, BP: (f as FakeBluesky).password }),
    script: (f) => (f as FakeBluesky).createScript,
    posts: (f) => (f as FakeBluesky).records.length,
    recChars: 250,
    expected: 'sent',
  },
  facebook: {
    start: () => new FakeFacebook().start(),
    account: (f) => ({ provider: 'facebook', baseUrl: f.url, credentialsEnv: { pageAccessToken: 'FB' }, options: { ...timeouts, pageId: PAGE_ID } }),
    env: (f) => ({ FB: (f as FakeFacebook).pageToken }),
    script: (f) => (f as FakeFacebook).postScript,
    posts: (f) => (f as FakeFacebook).posts.reduce((n, p) => n + 1 + p.comments.length, 0),
    recChars: 2000,
    expected: 'sent',
  },
  telegram: {
    start: () => new FakeTelegram().start(),
    account: (f) => ({ provider: 'telegram', baseUrl: f.url, credentialsEnv: { botToken: 'TG' }, options: { ...timeouts, chatId: '@tocsin_test' } }),
    env: (f) => ({ TG: (f as FakeTelegram).token }),
    script: (f) => (f as FakeTelegram).sendScript,
    posts: (f) => (f as FakeTelegram).messages.length,
    recChars: 1500,
    expected: 'unknown',
  },
};

describe('kill -9 in the middle of a thread, then a new worker', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  });

  it.each(Object.keys(cases))(
    '%s: no part is posted twice, and the outcome is honest',
    async (provider) => {
      const c = cases[provider];
      const fake = await c.start();
      cleanup.push(() => fake.close());
      const ctx: Context = await createContext(testConfig(`crash-${provider}`, { email: { enabled: false }, social: [{ id: 'acct', ...c.account(fake) }] }), {
        log: createLogger('silent'),
      });
      cleanup.push(async () => {
        await dropPrefix(ctx);
        await ctx.close();
      });
      const env = cliEnv(ctx.config, { LOG_LEVEL: 'warn', ...c.env(fake) });
      const [messenger] = (await buildAccounts(ctx.config, ctx.providers, c.env(fake))).values();
      const alert = await ctx.alerts.create(alertWithParts(messenger, 4, c.recChars, { image: undefined }));

      // Part 3 is stored by the provider, which then never answers; the worker is killed meanwhile.
      c.script(fake).on(3, { hangAfterStore: true });
      const first = startCli(['worker'], env);
      cleanup.push(async () => {
        first.kill('SIGKILL');
        await exited(first);
      });
      await publishAlert(ctx, alert.id);
      await waitFor(async () => (c.posts(fake) >= 3 ? true : undefined), 'the provider to store part 3', 60_000, 20);
      first.kill('SIGKILL');
      await exited(first);
      expect(c.posts(fake)).toBe(3);

      const second = startCli(['worker'], env);
      cleanup.push(async () => {
        second.kill('SIGKILL');
        await exited(second);
      });
      const report = await waitFor(
        async () => {
          const r = await alertStatus(ctx, alert.id);
          return r.complete ? r : undefined;
        },
        'the delivery to have an outcome',
        60_000,
      );
      const entry = await ctx.ledger.get(alert.id, 'acct', 'post');
      if (c.expected === 'sent') {
        expect(entry?.state).toBe('sent');
        expect(c.posts(fake)).toBe(4);
      } else {
        // The Bot API cannot look part 3 up: posting part 4 could fork the thread or repeat part 3.
        expect(entry?.state).toBe('unknown');
        expect(c.posts(fake)).toBe(3);
        const problem = report.problems.find((p) => p.channel === 'acct');
        expect(problem?.error).toBe(
          'part 3 of 4 may have been made before its answer was lost, and telegram offers no way to look it up; part 4 was not posted, so the thread does not fork',
        );
      }
    },
    180_000,
  );
});
