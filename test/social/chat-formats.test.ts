import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discordEmbedLength, discordPayload, postChatWebhook, slackPayload } from '../../src/channels/social/chat-formats.js';
import { FakeSlack } from '../fakes/slack.js';
import { FakeDiscord } from '../fakes/discord.js';
import { deliveryError, exampleAlert, recommendation, shortAlert } from './helpers.js';

const OPTS = { organisationName: 'Tocsin Test Org', colours: { emergency: '#b91c1c', watch: '#b08900' } };

describe('Slack and Discord webhook formats against fakes', () => {
  let slack: FakeSlack;
  let discord: FakeDiscord;

  beforeAll(async () => {
    slack = await new FakeSlack().start();
    discord = await new FakeDiscord().start();
  });
  afterAll(async () => {
    await slack.close();
    await discord.close();
  });

  it('Slack: Block Kit blocks with fallback text, the image with alt text, a button to the alert', async () => {
    const alert = exampleAlert('https://example.org/media/almaty.jpg');
    alert.summary = 'Troops & police <in armour> fired on crowds.';
    const payload = slackPayload(alert, OPTS);
    await postChatWebhook('slack', slack.hook, payload, { timeoutMs: 2000 });
    const received = slack.received.at(-1) as unknown as typeof payload;
    expect(received.text).toBe(`Genocide Emergency: ${alert.title} ${alert.canonicalUrl}`);
    expect(received.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: alert.title, emoji: true } });
    expect(JSON.stringify(received.blocks[1])).toContain('*Genocide Emergency*');
    expect(JSON.stringify(received.blocks[1])).toContain('Kazakhstan');
    expect((received.blocks[2].text as { text: string }).text).toBe('Troops &amp; police &lt;in armour&gt; fired on crowds.');
    expect(received.blocks.find((b) => b.type === 'image')).toMatchObject({ image_url: alert.image?.url, alt_text: alert.image?.alt });
    expect(received.blocks.at(-1)).toMatchObject({ type: 'actions', elements: [{ type: 'button', url: alert.canonicalUrl, style: 'danger' }] });
    const text = JSON.stringify(received.blocks);
    for (const rec of alert.recommendations) expect(text).toContain(rec);
  });

  it('Slack: a very long alert stays within Block Kit limits without dropping recommendations', async () => {
    const recs = Array.from({ length: 50 }, (_, i) => recommendation(i + 1, 1990));
    const alert = shortAlert({ recommendations: recs, level: 'warning' });
    const payload = slackPayload(alert, OPTS);
    await postChatWebhook('slack', slack.hook, payload, { timeoutMs: 2000 });
    const text = payload.blocks.map((b) => ((b.text as { text?: string } | undefined)?.text ?? '').replace(/^\*Recommendations\*\n/, '')).join(' ');
    const words = (t: string) => t.replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
    for (const rec of recs) expect(words(text)).toContain(words(rec));
    expect(payload.blocks.length).toBeLessThanOrEqual(50);
    expect(text).not.toContain('More recommendations');
  });

  it('Slack: 429 with Retry-After is rate-limited; an unknown hook is permanent', async () => {
    slack.script.on(1, { status: 429, headers: { 'retry-after': '2', 'content-type': 'text/plain' }, body: 'rate_limited' });
    const before = Date.now();
    const err = await deliveryError(postChatWebhook('slack', slack.hook, slackPayload(shortAlert()), { timeoutMs: 2000 }));
    expect(err.kind).toBe('rate-limited');
    expect(err.options.retryAt).toBeGreaterThanOrEqual(before + 2000);
    expect(err.options.retryAt).toBeLessThanOrEqual(Date.now() + 2000);
    const gone = await deliveryError(postChatWebhook('slack', `${slack.url}/services/T1/B1/nope`, slackPayload(shortAlert()), { timeoutMs: 2000 }));
    expect(gone).toMatchObject({ kind: 'permanent', options: { status: 404, credentials: true } });
    expect(gone.message).toContain('no_service');
  });

  it('Discord: an embed coloured by level, fields for stages and recommendations, the message id returned', async () => {
    const alert = exampleAlert('https://example.org/media/almaty.jpg');
    const payload = discordPayload(alert, OPTS);
    const posted = await postChatWebhook('discord', discord.hook, payload, { timeoutMs: 2000 });
    expect(posted.id).toMatch(/^\d+$/);
    const [embed] = discord.received.at(-1)?.embeds as ReturnType<typeof discordPayload>['embeds'];
    expect(embed).toMatchObject({ title: alert.title, url: alert.canonicalUrl, color: 0xb91c1c, image: { url: alert.image?.url } });
    expect(embed.fields.map((f) => f.name)).toEqual(['Level', 'Country', 'Stages', 'Recommendations']);
    expect(embed.fields[0].value).toBe('Genocide Emergency');
    expect(discord.received.at(-1)?.allowed_mentions).toEqual({ parse: [] });
    expect(discord.received.at(-1)?.username).toBe('Tocsin Test Org');
    expect(discordPayload(shortAlert(), OPTS).embeds[0].color).toBe(0xb08900);
    expect(discordPayload(shortAlert({ level: null }), OPTS).embeds[0].color).toBe(0x1d3557);
  });

  it('Discord: a very long alert stays under 6000 characters and says where the rest is', async () => {
    const recs = Array.from({ length: 20 }, (_, i) => recommendation(i + 1, 900));
    const payload = discordPayload(shortAlert({ recommendations: recs }), OPTS);
    const [embed] = payload.embeds;
    expect(discordEmbedLength(embed)).toBeLessThanOrEqual(6000);
    expect(embed.fields.at(-1)).toMatchObject({ name: 'More' });
    expect(embed.fields.at(-1)?.value).toContain('https://alerts.example.org/2026/delivery-test');
    await postChatWebhook('discord', discord.hook, payload, { timeoutMs: 2000 });
  });

  it('Discord: 204 without ?wait; 429 JSON retry_after is rate-limited; an unknown webhook is permanent', async () => {
    const plain = await fetch(discord.hook, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(discordPayload(shortAlert())),
    });
    expect(plain.status).toBe(204);
    discord.script.on(1, {
      status: 429,
      headers: { 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset-after': '2.000', 'content-type': 'application/json' },
      body: { message: 'You are being rate limited.', retry_after: 2, global: false },
    });
    const before = Date.now();
    const err = await deliveryError(postChatWebhook('discord', discord.hook, discordPayload(shortAlert()), { timeoutMs: 2000 }));
    expect(err.kind).toBe('rate-limited');
    expect(err.options.retryAt).toBeGreaterThanOrEqual(before + 2000);
    expect(err.options.retryAt).toBeLessThanOrEqual(Date.now() + 2000);
    const gone = await deliveryError(postChatWebhook('discord', `${discord.url}/api/webhooks/1/nope`, discordPayload(shortAlert()), { timeoutMs: 2000 }));
    expect(gone).toMatchObject({ kind: 'permanent', options: { status: 404, credentials: true } });
  });
});
