import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { escapeTelegramHtml, TelegramChannel } from '../../src/channels/social/telegram.js';
import { CHANNEL, FakeTelegram, parseTelegramHtml } from '../fakes/telegram.js';
import { FakeImageHost, PNG_1X1 } from '../fakes/image-host.js';
import type { RenderedMessage } from '../../src/channels/messenger.js';
import {
  alertWithParts,
  deliver,
  deliveryError,
  exampleAlert,
  expectKind,
  expectNothingCut,
  noSignal,
  positionOf,
  postDirectly,
  shortAlert,
  sleep,
  socialAccount,
} from './helpers.js';

const visible = (html: string): string => {
  const parsed = parseTelegramHtml(html);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed.text;
};

function expectTelegramParts(message: RenderedMessage): void {
  const n = message.parts.length;
  message.parts.forEach((part, i) => {
    expect(part.length).toBe(visible(part.text).length);
    expect(part.length).toBeLessThanOrEqual(part.limit);
    if (n > 1) expect(part.text.endsWith(` ${i + 1}/${n}`)).toBe(true);
  });
}

describe('Telegram adapter against a fake Bot API', () => {
  let fake: FakeTelegram;
  let images: FakeImageHost;

  beforeAll(async () => {
    images = await new FakeImageHost().start();
  });
  afterAll(async () => {
    await images.close();
  });
  beforeEach(async (ctx) => {
    fake = await new FakeTelegram().start();
    ctx.onTestFinished(() => fake.close());
  });

  const channel = (options: Record<string, unknown> = {}, token = fake.token): TelegramChannel =>
    new TelegramChannel(
      socialAccount({
        id: 'tg',
        provider: 'telegram',
        baseUrl: fake.url,
        credentialsEnv: { botToken: 'TELEGRAM_BOT_TOKEN' },
        options: { chatId: '@tocsin_test', timeoutMs: 2000, ...options },
      }),
      { TELEGRAM_BOT_TOKEN: token },
    );
  const expectChained = () => fake.messages.forEach((m, i) => expect(m.reply_to).toBe(i === 0 ? undefined : fake.messages[i - 1].message_id));

  it('escapes &, < and > only', () => {
    expect(escapeTelegramHtml(`Tanks & <troops> "near" the border`)).toBe('Tanks &amp; &lt;troops&gt; "near" the border');
  });

  it('posts a short alert as HTML: bold title, escaped text, the link once', async () => {
    const t = channel();
    const alert = shortAlert({ summary: 'Test of escaping: R&D budgets < 5% and > 1% of "aid" <b>not bold</b>.' });
    const message = t.render(alert);
    expect(message.parts).toHaveLength(1);
    const [part] = message.parts;
    expect(part.text).toBe(
      `<b>${alert.title}</b>\n\nTest of escaping: R&amp;D budgets &lt; 5% and &gt; 1% of “aid” &lt;b&gt;not bold&lt;/b&gt;.\n\nFull alert: ${alert.canonicalUrl}`,
    );
    expect(part.limit).toBe(4096);
    const result = expectKind(await deliver(t, message), 'sent');
    expect(fake.messages).toHaveLength(1);
    expect(fake.messages[0].html).toBe(part.text);
    expect(fake.messages[0].text).toContain('R&D budgets < 5% and > 1%');
    expect(fake.messages[0].reply_to).toBeUndefined();
    expect(result.first).toEqual({ id: String(fake.messages[0].message_id), url: `https://t.me/${CHANNEL.username}/${fake.messages[0].message_id}` });
  });

  it('threads a long alert in 4096-character messages, each replying to the one before', async () => {
    const t = channel();
    const alert = alertWithParts(t, 3, 1990);
    const message = t.render(alert);
    expectTelegramParts(message);
    expectNothingCut(message, alert, visible);
    expectKind(await deliver(t, message), 'sent');
    expect(fake.messages.map((m) => m.html)).toEqual(message.parts.map((p) => p.text));
    fake.messages.forEach((m) => expect(m.text.length).toBeLessThanOrEqual(4096));
    expectChained();
  });

  it('sends the photo with the first part as caption (1024), describing the image since Telegram has no alt text', async () => {
    const t = channel();
    const alert = exampleAlert(images.image());
    const message = t.render(alert);
    expectTelegramParts(message);
    expect(message.parts[0].limit).toBe(1024);
    expect(message.parts[0].extra?.method).toBe('sendPhoto');
    expect(visible(message.parts[0].text)).toContain(`Image: ${alert.image?.alt}`);
    expectNothingCut(message, alert, visible);
    expectKind(await deliver(t, message), 'sent');
    expect(fake.messages[0].photo?.bytes.equals(PNG_1X1)).toBe(true);
    expect(fake.messages[0].html).toBe(message.parts[0].text);
    expect(fake.messages.slice(1).every((m) => !m.photo)).toBe(true);
    expectChained();
  });

  it('sends the text alone, with a warning, when Telegram cannot fetch the photo', async () => {
    const t = channel();
    const result = expectKind(await deliver(t, t.render(shortAlert({ image: { url: `${images.url}/media/page.html`, alt: 'Not an image.' } }))), 'sent');
    expect(fake.messages).toHaveLength(1);
    expect(fake.messages[0].photo).toBeUndefined();
    expect(result.first.ref?.warning).toMatch(/image left out.*HTTP URL/);
  });

  it('on 429 reports a rate-limited retry after retry_after (2 seconds), and a later delivery posts', async () => {
    fake.sendScript.on(1, {
      status: 429,
      body: { ok: false, error_code: 429, description: 'Too Many Requests: retry after 2', parameters: { retry_after: 2 } },
    });
    const t = channel();
    const message = t.render(shortAlert());
    const before = Date.now();
    const first = expectKind(await deliver(t, message), 'retry');
    expect(first.rateLimited).toBe(true);
    expect(first.retryAt).toBeGreaterThanOrEqual(before + 2000);
    expect(first.retryAt).toBeLessThanOrEqual(Date.now() + 2000);
    expect(fake.messages).toHaveLength(0);
    await sleep(Math.max(0, (first.retryAt as number) - Date.now()));
    // A fresh record: see the next test for resuming from this attempt's own record.
    expectKind(await deliver(t, message), 'sent');
    expect(fake.messages).toHaveLength(1);
  });

  // Known source problem (reported to the lead): a part Telegram refused outright (429, 5xx) stays
  // `inflight` in the thread record, because the dispatcher never clears it after a definite
  // refusal, so the next attempt takes it for a lost answer and ends `unknown`. Remove `.fails`
  // once src/delivery/thread-dispatcher.ts clears the in-flight mark on a definite refusal.
  it('after a 429, the next attempt resumes from its own record and posts (a refused part is not left in flight)', async () => {
    fake.sendScript.on(1, {
      status: 429,
      body: { ok: false, error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } },
    });
    const t = channel();
    const message = t.render(shortAlert());
    const first = expectKind(await deliver(t, message), 'retry');
    expect(fake.messages).toHaveLength(0);
    await sleep(Math.max(0, (first.retryAt as number) - Date.now()));
    expectKind(await deliver(t, message, first.thread), 'sent');
    expect(fake.messages).toHaveLength(1);
  });

  it('a timeout after Telegram stored the message ends unknown: the Bot API cannot look it up, and nothing is re-sent', async () => {
    fake.sendScript.on(1, { hangAfterStore: true });
    const t = channel({ timeoutMs: 1000 });
    const message = t.render(shortAlert());
    const result = expectKind(await deliver(t, message), 'unknown');
    expect(result.reason).toMatch(/the post may have been (made|posted)/);
    expect(result.reason).toMatch(/telegram offers no way to look it up/i);
    expect(fake.messages).toHaveLength(1);
    expect(t.safeToResend).toBe(false);
    expect('findPart' in t).toBe(false);
  });

  it('a wrong bot token fails the delivery as a credentials problem, and the token never shows in errors', async () => {
    const t = channel({}, '7000000001:wrong');
    const message = t.render(shortAlert());
    const result = expectKind(await deliver(t, message), 'failed');
    expect(result.reason).toMatch(/401/);
    expect(result.reason).not.toContain('7000000001:wrong');
    const err = await deliveryError(t.postPart(message.parts[0], positionOf(message, 0, []), noSignal()));
    expect(err).toMatchObject({ kind: 'permanent', options: { status: 401, credentials: true } });
    expect(err.message).not.toContain('7000000001:wrong');
    const health = await t.checkHealth();
    expect(health.ok).toBe(false);
    expect(health.detail).toMatch(/credentials rejected.*Unauthorized/);
    expect(health.detail).not.toContain('7000000001:wrong');

    const elsewhere = channel({ chatId: '@somewhere_else' });
    expectKind(await deliver(elsewhere, message), 'failed');
    const wrongChat = await deliveryError(elsewhere.postPart(message.parts[0], positionOf(message, 0, []), noSignal()));
    expect(wrongChat).toMatchObject({ kind: 'permanent', options: { credentials: true } });
    expect(fake.messages).toHaveLength(0);
  });

  it('health checks the bot, the chat and its right to post', async () => {
    const ok = await channel().checkHealth();
    expect(ok).toMatchObject({ ok: true });
    expect(ok.detail).toContain('@tocsin_test_bot in channel Tocsin Test Channel as administrator');
    fake.memberStatus = { status: 'administrator', can_post_messages: false };
    const cannot = await channel().checkHealth();
    expect(cannot.ok).toBe(false);
    expect(cannot.missingPermissions?.[0]).toMatch(/can_post_messages/);
  });

  it('resumes a thread of 5 after part 3 failed: posts 3..5 only', async () => {
    const t = channel();
    const message = t.render(alertWithParts(t, 5, 1990));
    expectTelegramParts(message);
    fake.sendScript.on(3, { status: 502, body: 'Bad Gateway' });
    const failed = expectKind(await deliver(t, message), 'retry');
    expect(failed.rateLimited).toBe(false);
    expect(failed.thread.posted).toHaveLength(2);
    const resumed = expectKind(await deliver(t, message, { posted: failed.thread.posted, begun: [] }), 'sent');
    expect(resumed.thread.begun).toEqual([2, 3, 4]);
    expect(fake.messages).toHaveLength(5);
    expect(fake.messages.map((m) => m.html)).toEqual(message.parts.map((p) => p.text));
    expectChained();
  });

  it('after a crash while part 3 of 4 was in flight (Telegram has it), ends unknown naming the part, and posts nothing more', async () => {
    const t = channel();
    const message = t.render(alertWithParts(t, 4, 1990));
    const [p0, p1] = await postDirectly(t, message, 3);
    const result = expectKind(await deliver(t, message, { posted: [p0, p1], begun: [], inflight: 2 }), 'unknown');
    expect(result.reason).toMatch(/part 3 of 4 may have been (made|posted)/);
    expect(result.reason).toMatch(/telegram offers no way to look it up/i);
    expect(result.reason).toMatch(/part 4 (was|were) not posted/);
    expect(result.posted).toEqual([p0, p1]);
    expect(result.thread.begun).toEqual([]);
    expect(fake.messages.map((m) => m.html)).toEqual(message.parts.slice(0, 3).map((p) => p.text));
  });

  it('after a crash between parts 2 and 3 of 4, resumes at part 3', async () => {
    const t = channel();
    const message = t.render(alertWithParts(t, 4, 1990));
    const [p0, p1] = await postDirectly(t, message, 2);
    const result = expectKind(await deliver(t, message, { posted: [p0, p1], begun: [] }), 'sent');
    expect(result.first.id).toBe(p0.id);
    expect(result.thread.begun).toEqual([2, 3]);
    expect(fake.messages.map((m) => m.html)).toEqual(message.parts.map((p) => p.text));
    expectChained();
  });

  it('validates the chat id', () => {
    expect(() => channel({ chatId: 'my channel' })).toThrow(/social\.tg\.options\.chatId/);
    expect(channel({ chatId: -1001234567890 }).render(shortAlert()).parts).toHaveLength(1);
  });
});
