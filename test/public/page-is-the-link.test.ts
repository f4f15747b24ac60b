import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitForMail, type Harness } from '../subscriptions/harness.js';
import { seedSubscribers, storeAlert } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/context.js';
import { FakeMastodon } from '../fakes/mastodon.js';
import { startWorkers, type RunningWorkers } from '../../workers/run.js';
import { createAccountChannels } from '../../src/channels/accounts.js';
import { publishAlert } from '../../src/publish/publish.js';
import { loadRendered } from '../../src/publish/rendered.js';
import type { RenderedMessage } from '../../src/channels/messenger.js';

// "The page is the link": an alert without a canonicalUrl goes out by email (real SMTP server) and
// on Mastodon (the provider fake), and the link each carries opens the alert's public page.

describe('the page is the link', () => {
  let h: Harness;
  let mastodon: FakeMastodon;
  let workers: RunningWorkers;

  beforeAll(async () => {
    mastodon = await new FakeMastodon().start();
    h = await startHarness('public-link', {
      social: [
        { id: 'masto', provider: 'mastodon', baseUrl: mastodon.url, credentialsEnv: { accessToken: 'LINK_TEST_MASTODON' }, options: { timeoutMs: 3000 } },
      ],
      webhooks: [
        { id: 'partner', url: `${mastodon.url}/not-used`, format: 'json' },
        { id: 'team-slack', url: `${mastodon.url}/not-used`, format: 'slack' },
        { id: 'team-discord', url: `${mastodon.url}/not-used`, format: 'discord' },
      ],
    });
    workers = startWorkers(h.ctx, await createAccountChannels(h.ctx, { LINK_TEST_MASTODON: mastodon.token }));
  });
  afterAll(async () => {
    await workers?.close();
    await h?.close();
    await mastodon?.close();
  });

  it('emails and posts link to the public page, which opens with the title', async () => {
    await seedSubscribers(
      h.ctx,
      1,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      () => 'link.reader@example.org',
    );
    const alert = await storeAlert(h.ctx, { slug: 'linked-alert', title: 'Linked alert: Kazakhstan', canonicalUrl: undefined });
    await publishAlert(h.ctx, alert.id, 'publisher');
    const pageUrl = `${h.base}/alerts/linked-alert`;

    const mail = await waitForMail(h.smtp, 'link.reader@example.org', /Linked alert/);
    const textLink = /Read the full alert: (\S+)/.exec(mail.text ?? '')?.[1];
    expect(textLink).toBe(pageUrl);
    expect(mail.html).toContain(`href="${pageUrl}"`);
    const fromMail = await fetch(textLink!);
    expect(fromMail.status).toBe(200);
    expect(await fromMail.text()).toContain('<h1 id="alert-title">Linked alert: Kazakhstan</h1>');

    const status = await waitFor(async () => mastodon.statuses.find((s) => s.text.includes('Linked alert')), 'the Mastodon post');
    const postLink = /https?:\/\/\S+\/alerts\/[a-z0-9-]+/.exec(mastodon.statuses.map((s) => s.text).join('\n'))?.[0];
    expect(postLink).toBe(pageUrl);
    const fromPost = await fetch(postLink!);
    expect(fromPost.status).toBe(200);
    expect(await fromPost.text()).toContain('Linked alert: Kazakhstan');
    void status;

    // The webhook payload carries the same link.
    const hook = await loadRendered<RenderedMessage>(h.ctx, alert.id, 'partner');
    expect(JSON.parse(hook!.parts[0].text)).toMatchObject({ url: pageUrl, canonicalUrl: null });
    // So do the Slack button and the Discord embed.
    const slack = JSON.parse((await loadRendered<RenderedMessage>(h.ctx, alert.id, 'team-slack'))!.parts[0].text);
    expect(slack.blocks.find((b: { type: string }) => b.type === 'actions').elements[0].url).toBe(pageUrl);
    const discord = JSON.parse((await loadRendered<RenderedMessage>(h.ctx, alert.id, 'team-discord'))!.parts[0].text);
    expect(discord.embeds[0].url).toBe(pageUrl);
  });

  it('with a canonicalUrl every message links there instead', async () => {
    const alert = await storeAlert(h.ctx, {
      slug: 'canonical-alert',
      title: 'Canonical alert: Kazakhstan',
      canonicalUrl: 'https://example.org/alerts/canonical',
    });
    await publishAlert(h.ctx, alert.id, 'publisher');
    const mail = await waitForMail(h.smtp, 'link.reader@example.org', /Canonical alert/);
    expect(/Read the full alert: (\S+)/.exec(mail.text ?? '')?.[1]).toBe('https://example.org/alerts/canonical');
    await waitFor(
      async () => mastodon.statuses.some((s) => s.text.includes('https://example.org/alerts/canonical')),
      'the Mastodon post with the canonical link',
    );
    expect((await fetch(`${h.base}/alerts/canonical-alert`)).status).toBe(200);
  });
});
