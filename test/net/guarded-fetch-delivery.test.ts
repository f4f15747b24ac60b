import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MastodonChannel } from '../../src/channels/social/mastodon.js';
import type { SocialDeps } from '../../src/channels/social/tokens.js';
import { createAccountChannels } from '../../src/channels/accounts.js';
import { GuardedFetcher } from '../../src/net/guarded-fetch.js';
import { publishAlert } from '../../src/publish/publish.js';
import { alertStatus } from '../../src/publish/status.js';
import type { Context } from '../../src/context.js';
import type { Logger } from '../../src/log.js';
import { startWorkers, type RunningWorkers } from '../../workers/run.js';
import { FakeMastodon } from '../fakes/mastodon.js';
import { Canary, HostileImageHost } from '../fakes/hostile-hosts.js';
import { dropPrefix, testContext, waitFor } from '../helpers/context.js';
import { storeAlert } from '../helpers/fixtures.js';
import { deliver, expectKind, shortAlert, socialAccount } from '../social/helpers.js';

// Alert image URLs that lead inward, through a real social adapter (Mastodon against its fake):
// the post goes out without the image, nothing reaches the provider's media endpoint or the
// internal service, staff read generic words and the log keeps the real reason.

const GENERIC = 'image left out: could not fetch the image';

describe('an alert whose image URL leads inward, posted to Mastodon', () => {
  let mastodon: FakeMastodon;
  let host: HostileImageHost;
  let loopback: Canary;
  let inner: Canary;

  beforeAll(async () => {
    mastodon = await new FakeMastodon().start();
    host = await new HostileImageHost().start();
    loopback = await new Canary('127.0.0.1').start();
    inner = await new Canary('127.0.0.2').start(host.port);
  });
  afterAll(async () => {
    await Promise.all([mastodon.close(), host.close(), loopback.close(), inner.close()]);
  });

  const channel = (deps: SocialDeps, options: Record<string, unknown> = {}): MastodonChannel =>
    new MastodonChannel(
      socialAccount({
        id: 'masto',
        provider: 'mastodon',
        baseUrl: mastodon.url,
        credentialsEnv: { accessToken: 'MT' },
        options: { timeoutMs: 5000, ...options },
      }),
      { MT: mastodon.token },
      deps,
    );

  /** A pino logger writing into an array, as the service's logger would write to stdout. */
  function capturedLog(): { log: Logger; records: Array<Record<string, unknown>> } {
    const records: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        records.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    });
    return { log: pino({ level: 'warn' }, sink), records };
  }

  it('each address class: posted without the image, nothing uploaded, generic words for staff, the reason in the log', async () => {
    const dns = (hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) =>
      options.all ? callback(null, [{ address: '127.0.0.2', family: 4 }]) : callback(null, '127.0.0.2', 4);
    const { log, records } = capturedLog();
    const production: SocialDeps = { log }; // no fetcher given: public addresses only
    // The hostile host stands for a public server; only its address is opened.
    const withTestHost: SocialDeps = { log, fetcher: new GuardedFetcher({ allowPrivateAddresses: ['127.0.0.1/32'] }) };
    const withInternalDns: SocialDeps = { log, fetcher: new GuardedFetcher({ allowPrivateAddresses: ['127.0.0.1/32'] }, { lookup: dns as never }) };
    const cases: Array<[what: string, url: string, deps: SocialDeps]> = [
      ['loopback', `http://127.0.0.1:${loopback.port}/lead.png`, production],
      ['loopback, decimal', `http://2130706433:${loopback.port}/lead.png`, production],
      ['loopback, octal', `http://0177.0.0.1:${loopback.port}/lead.png`, production],
      ['loopback, hex', `http://0x7f.1:${loopback.port}/lead.png`, production],
      ['loopback, IPv4-mapped', `http://[::ffff:127.0.0.1]:${loopback.port}/lead.png`, production],
      ['loopback by name', `http://localhost:${loopback.port}/lead.png`, production],
      ['private', 'http://10.0.0.1/lead.png', production],
      ['link-local', 'http://169.254.1.1/lead.png', production],
      ['metadata', 'http://169.254.169.254/latest/meta-data/iam/security-credentials/', production],
      ['metadata, IPv6', 'http://[fd00:ec2::254]/latest/meta-data/', production],
      ['redirect inward', `${host.url}/redirect?to=${encodeURIComponent(`http://127.0.0.2:${host.port}/lead.png`)}`, withTestHost],
      ['a name that resolves inward', `http://images.example.org:${host.port}/lead.png`, withInternalDns],
    ];
    for (const [what, url, deps] of cases) {
      const before = mastodon.statuses.length;
      const m = channel(deps);
      const result = expectKind(
        await deliver(m, m.render(shortAlert({ title: `Inward image: ${what}`, image: { url, alt: 'An image.' } })), undefined, {
          key: `tocsin-inward-${before}-masto`,
        }),
        'sent',
      );
      const first = result.first;
      expect(mastodon.statuses).toHaveLength(before + 1);
      const status = mastodon.statuses[before];
      expect({ what, warning: first.ref?.warning, media: status.media_ids }).toEqual({ what, warning: GENERIC, media: [] });
    }
    expect(mastodon.media.size).toBe(0);
    expect(mastodon.requests.filter((r) => r.includes('/media'))).toEqual([]);
    expect(loopback.connections).toBe(0);
    expect(inner.connections).toBe(0);
    // The log says what really happened, once per case; the post and the ledger never do.
    expect(records).toHaveLength(cases.length);
    expect(records.map((r) => r.channel)).toEqual(cases.map(() => 'masto'));
    expect(records.find((r) => String(r.detail).includes('169.254.169.254'))?.detail).toBe(
      'refused 169.254.169.254: 169.254.169.254 is a cloud metadata address',
    );
    expect(records.every((r) => /^refused /.test(String(r.detail)))).toBe(true);
  });

  it('with imageRequired the delivery fails for good, in the same generic words, and nothing is posted', async () => {
    const before = mastodon.statuses.length;
    const m = channel({}, { imageRequired: true });
    const failed = expectKind(await deliver(m, m.render(shortAlert({ image: { url: 'http://169.254.169.254/latest/meta-data/', alt: 'x' } }))), 'failed');
    expect(failed.reason).toBe('could not fetch the image');
    expect(mastodon.statuses).toHaveLength(before);
  });

  it('a public image host that is down: transient with imageRequired, so the account retries', async () => {
    const m = channel({ fetcher: new GuardedFetcher({ allowPrivateAddresses: ['127.0.0.1/32'] }) }, { imageRequired: true });
    const retry = expectKind(await deliver(m, m.render(shortAlert({ image: { url: `${host.url}/down.png`, alt: 'x' } }))), 'retry');
    expect(retry.rateLimited).toBe(false);
    expect(retry.reason).toBe('could not fetch the image');
  });
});

describe('the whole pipeline: publish, account queue, worker, ledger', () => {
  let ctx: Context;
  let workers: RunningWorkers;
  let mastodon: FakeMastodon;
  let canary: Canary;

  beforeAll(async () => {
    mastodon = await new FakeMastodon().start();
    canary = await new Canary('127.0.0.1').start();
    // The production default: no fetch.allowPrivateAddresses.
    ctx = await testContext('guarded-fetch', {
      email: { enabled: false },
      social: [{ id: 'masto', provider: 'mastodon', baseUrl: mastodon.url, credentialsEnv: { accessToken: 'MT' }, options: { timeoutMs: 5000 } }],
    });
    workers = startWorkers(ctx, await createAccountChannels(ctx, { MT: mastodon.token }));
  });
  afterAll(async () => {
    await workers.close();
    await dropPrefix(ctx);
    await ctx.close();
    await Promise.all([mastodon.close(), canary.close()]);
  });

  it('posts without the image; the ledger entry says why in generic words; the internal service and the media endpoint see nothing', async () => {
    const alert = await storeAlert(ctx, { image: { url: `http://127.0.0.1:${canary.port}/lead.png`, alt: 'Soldiers in a line.' } });
    await publishAlert(ctx, alert.id);
    await waitFor(async () => (await alertStatus(ctx, alert.id)).complete, 'the Mastodon delivery to have an outcome');

    const entry = await ctx.ledger.get(alert.id, 'masto', 'post');
    expect(entry).toMatchObject({ state: 'sent', providerId: mastodon.statuses[0].id, error: GENERIC });
    expect(mastodon.statuses.every((s) => s.media_ids.length === 0)).toBe(true);
    expect(mastodon.media.size).toBe(0);
    expect(canary.connections).toBe(0);
  });
});
