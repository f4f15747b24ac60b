import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { startHarness, Client, TOKENS, type Harness } from '../console/harness.js';
import { waitFor } from '../helpers/context.js';
import { storeAlert } from '../helpers/fixtures.js';
import { builtInProviders, type ProviderDefinition } from '../../src/channels/providers.js';
import type { HealthReport, Messenger, PostedPart, RenderedMessage, RenderedPart, ThreadPosition } from '../../src/channels/messenger.js';
import { DeliveryError } from '../../src/channels/messenger.js';
import type { SocialAccountConfig } from '../../src/config/schema.js';
import type { Alert } from '../../src/domain/alert.js';
import { loadConfig } from '../../src/config/load.js';
import { checkChannels } from '../../src/channels/check.js';
import { renderPreview } from '../../src/publish/preview.js';
import { publishAlert } from '../../src/publish/publish.js';
import { alertStatus } from '../../src/publish/status.js';

// Issue 11: adding a provider is one adapter, its fake, its test and one registry entry. This test
// adds a throwaway provider through the registry alone (no other file knows it) and checks that
// the config, the channel check, render, delivery and the health page all pick it up.

/** A throwaway provider: posts each part as plain text to a "loft". */
class PigeonMessenger implements Messenger {
  readonly provider = 'pigeon';
  readonly safeToResend = false;
  readonly partDeadlineMs = 5000;
  readonly id: string;
  private readonly loft: string;

  constructor(account: SocialAccountConfig) {
    this.id = account.id;
    this.loft = account.baseUrl ?? '';
  }

  render(alert: Alert): RenderedMessage {
    const parts: RenderedPart[] = [alert.title, alert.summary].map((text) => ({ text, length: text.length, limit: 1000 }));
    return { channel: this.id, provider: this.provider, parts };
  }

  async postPart(part: RenderedPart, position: ThreadPosition, signal: AbortSignal): Promise<PostedPart> {
    const res = await fetch(`${this.loft}/coo`, { method: 'POST', body: JSON.stringify({ text: part.text, replyTo: position.replyTo?.id }), signal });
    if (!res.ok) throw new DeliveryError('transient', `the loft answered ${res.status}`);
    return { id: ((await res.json()) as { id: string }).id };
  }

  async checkHealth(): Promise<HealthReport> {
    const res = await fetch(`${this.loft}/coo`, { method: 'HEAD' });
    return { ok: res.ok, checkedAt: new Date().toISOString(), detail: `the loft answered ${res.status}` };
  }
}

const pigeon: ProviderDefinition = { name: 'pigeon', label: 'Carrier pigeon', create: async (account) => new PigeonMessenger(account) };

describe('a provider added through the registry alone', () => {
  let loft: FastifyInstance;
  let loftUrl: string;
  const received: Array<{ text: string; replyTo?: string }> = [];
  let h: Harness;

  beforeAll(async () => {
    loft = Fastify();
    loft.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => done(null, JSON.parse(body as string)));
    loft.post('/coo', async (request) => {
      received.push(request.body as { text: string; replyTo?: string });
      return { id: `coo-${received.length}` };
    });
    loft.head('/coo', async () => '');
    loftUrl = await loft.listen({ port: 0, host: '127.0.0.1' });
    h = await startHarness('registry', {
      workers: true,
      providers: builtInProviders.with(pigeon),
      overrides: { email: { enabled: false }, webhooks: [], social: [{ id: 'coop', provider: 'pigeon', baseUrl: loftUrl }] },
    });
  });
  afterAll(async () => {
    await h.close();
    await loft.close();
  });

  it('is refused by the built-in registry and accepted by one that has it', () => {
    const social = [{ id: 'coop', provider: 'pigeon', baseUrl: 'http://127.0.0.1:1' }];
    expect(() => loadConfig({ path: '/dev/null', env: {}, overrides: { social } })).toThrow(
      /social\.0\.provider: must be one of x, mastodon, bluesky, facebook, telegram$/,
    );
    const config = loadConfig({ path: '/dev/null', env: {}, overrides: { social }, providers: builtInProviders.with(pigeon) });
    expect(config.social[0].provider).toBe('pigeon');
  });

  it('is checked, rendered, delivered and shown on the health page', async () => {
    expect(h.accounts.get('coop')?.provider).toBe('pigeon');

    const checks = await checkChannels(h.ctx, h.accounts);
    expect(checks.find((c) => c.channel === 'coop')).toMatchObject({ provider: 'pigeon', report: { ok: true, detail: 'the loft answered 200' } });

    const alert = await storeAlert(h.ctx, { image: undefined });
    const preview = await renderPreview(h.ctx, h.accounts, alert, 'coop');
    expect(preview.kind === 'account' && preview.message.parts.map((p) => p.text)).toEqual([alert.title, alert.summary]);

    await publishAlert(h.ctx, alert.id);
    await waitFor(async () => ((await alertStatus(h.ctx, alert.id)).complete ? true : undefined), 'the pigeon delivery');
    expect(received).toEqual([{ text: alert.title }, { text: alert.summary, replyTo: 'coo-1' }]);
    expect(await h.ctx.ledger.get(alert.id, 'coop', 'post')).toMatchObject({ state: 'sent', providerId: 'coo-1' });

    const client = new Client(h.baseUrl);
    await client.login(TOKENS.viewer);
    const page = await (await client.request('/console/health')).text();
    expect(page).toMatch(/<th scope="row">coop \(Carrier pigeon\)<\/th>/);
  });

  it('is listed in the README provider table with every built-in provider', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('| provider | `provider:`'));
    for (const name of builtInProviders.names) expect(table, name).toMatch(new RegExp(`\\| \`${name}\` \\|`));
  });
});
