import { describe, expect, it } from 'vitest';
import { sentences, splitThread, stripLabel, ThreadSplitError } from '../../src/channels/social/thread.js';
import { graphemeLength } from '../../src/channels/social/common.js';
import { xLength } from '../../src/channels/social/x.js';
import { buildAccounts } from '../../src/channels/accounts.js';
import { builtInProviders } from '../../src/channels/providers.js';
import { configSchemaFor } from '../../src/config/providers-schema.js';
import { configSchema } from '../../src/config/schema.js';

const len = (t: string) => t.length;

describe('thread splitting', () => {
  it('keeps a short text in one part, without a label', () => {
    expect(splitThread(['Hello there.', 'Second paragraph.'], { length: len, limit: 100 })).toEqual(['Hello there.\n\nSecond paragraph.']);
  });

  it('splits at sentence boundaries and numbers the parts i/n', () => {
    const text = 'One sentence here. Another sentence follows. A third one ends it.';
    const parts = splitThread([text], { length: len, limit: 50 });
    expect(parts).toEqual(['One sentence here. Another sentence follows. 1/2', 'A third one ends it. 2/2']);
    parts.forEach((p) => expect(p.length).toBeLessThanOrEqual(50));
  });

  it('never cuts silently: a sentence longer than a part is split between words, a long word between graphemes', () => {
    const long = 'word '.repeat(40).trim() + '.';
    const parts = splitThread([long], { length: len, limit: 60 });
    parts.forEach((p) => expect(p.length).toBeLessThanOrEqual(60));
    expect(parts.map(stripLabel).join(' ')).toBe(long);
    const hash = 'x'.repeat(130);
    const pieces = splitThread([hash], { length: len, limit: 50 });
    pieces.forEach((p) => expect(p.length).toBeLessThanOrEqual(50));
    expect(pieces.map(stripLabel).join('')).toBe(hash);
    const emoji = '👩🏽‍🚒'.repeat(30);
    const split = splitThread([emoji], { length: graphemeLength, limit: 20 });
    expect(split.map(stripLabel).join('')).toBe(emoji);
  });

  it('does not break inside a URL, and measures by the provider rule (X: every URL is 23)', () => {
    const url = 'https://example.org/a/really/long/path/with.dots.in/it/that/goes/on/and/on/and/on/and/on/forever.html';
    const parts = splitThread([`Read this. ${url} And then this.`], { length: xLength, limit: 280 });
    expect(parts).toHaveLength(1);
    expect(sentences(`See example.org. Then ${url}. Done.`).map((s) => s.text)).toContain(`Then ${url}.`);
  });

  it('settles the count when labels grow from one to two digits', () => {
    const paragraphs = Array.from({ length: 12 }, (_, i) => `Sentence number ${i + 1} is here.`);
    const parts = splitThread(paragraphs, { length: len, limit: 36 });
    expect(parts.length).toBeGreaterThanOrEqual(10);
    parts.forEach((p, i) => {
      expect(p.length).toBeLessThanOrEqual(36);
      expect(p.endsWith(` ${i + 1}/${parts.length}`)).toBe(true);
    });
  });

  it('puts firstSuffix in the first part, honours breakBefore and per-part limits', () => {
    const parts = splitThread(['Alpha beta.', { text: 'Link: https://e.org', breakBefore: true }], {
      length: len,
      limit: (i) => (i === 0 ? 30 : 100),
      firstSuffix: 'FIRST',
    });
    expect(parts).toEqual(['Alpha beta.\n\nFIRST 1/2', 'Link: https://e.org 2/2']);
  });

  it('fails loudly if a limit cannot hold anything', () => {
    expect(() => splitThread(['abc'], { length: len, limit: 2, firstSuffix: 'too long suffix' })).toThrow(ThreadSplitError);
  });
});

describe('the provider registry', () => {
  it('builds an account for every built-in provider, in config order', async () => {
    const config = configSchema.parse({
      social: [
        { id: 'x', provider: 'x', credentialsEnv: { appKey: 'A', appSecret: 'B', accessToken: 'C', accessSecret: 'D' } },
        { id: 'masto', provider: 'mastodon', baseUrl: 'https://m.example', credentialsEnv: { accessToken: 'M' } },
        { id: 'bsky', provider: 'bluesky', credentialsEnv: { identifier: 'I', password: 'P' } },
        { id: 'fb', provider: 'facebook', credentialsEnv: { pageAccessToken: 'F' }, options: { pageId: '12345678' } },
        { id: 'tg', provider: 'telegram', credentialsEnv: { botToken: 'T' }, options: { chatId: '@tocsin_test' } },
      ],
    });
    expect(builtInProviders.names).toEqual(['x', 'mastodon', 'bluesky', 'facebook', 'telegram']);
    const channels = await buildAccounts(config, builtInProviders, {});
    expect([...channels.values()].map((c) => c.provider)).toEqual(['x', 'mastodon', 'bluesky', 'facebook', 'telegram']);
  });

  it('refuses a provider the registry does not have, naming the field and the choices', () => {
    const result = configSchemaFor(builtInProviders).safeParse({ social: [{ id: 'm', provider: 'myspace' }] });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain('must be one of x, mastodon, bluesky, facebook, telegram');
  });
});
