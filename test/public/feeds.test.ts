import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFeed } from '@rowanmanning/feed-parser';
import { create } from 'xmlbuilder2';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { startHarness, type Harness } from '../subscriptions/harness.js';
import { storeAlert } from '../helpers/fixtures.js';
import { CAP_XSD, correct, hostileInput, published, retract, xmllint } from './helpers.js';

// Feeds and CAP messages read by independent parsers: @rowanmanning/feed-parser for Atom and RSS,
// a JSON Schema of JSON Feed 1.1 (written from the specification) with ajv, and xmllint with the
// OASIS CAP 1.2 schema for every message.

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const schema = JSON.parse(readFileSync(new URL('./jsonfeed-1.1.schema.json', import.meta.url), 'utf8'));
const ajv = addFormats(new Ajv({ allErrors: true, strict: true, strictRequired: false }));
const validateJsonFeed = ajv.compile(schema);

/**
 * The HTML of each entry exactly as a reader gets it after XML parsing. (feed-parser decodes HTML
 * entities in content as well, so its `content` cannot tell escaped text from markup.)
 */
function entryHtml(xml: string, element: 'content' | 'content:encoded'): string[] {
  const elements = (create(xml).node as unknown as Document).getElementsByTagName(element);
  return Array.from(elements, (el) => el.textContent ?? '');
}

/** What would make HTML run script: a script element, an on* handler, a javascript: URL. */
function dangerous(html: string): string[] {
  const found: string[] = [];
  if (/<script[\s>]/i.test(html)) found.push('script element');
  if (/<[a-z][^>]*\son[a-z]+\s*=/i.test(html)) found.push('event handler attribute');
  if (/<[a-z][^>]*(href|src)\s*=\s*["']?\s*javascript:/i.test(html)) found.push('javascript: URL');
  return found;
}

describe('feeds and CAP', () => {
  let h: Harness;
  const get = async (path: string) => {
    const r = await fetch(`${h.base}${path}`);
    expect(r.status, path).toBe(200);
    return { type: r.headers.get('content-type'), body: await r.text(), headers: r.headers };
  };

  beforeAll(async () => {
    h = await startHarness('public-feeds');
  });
  afterAll(async () => h?.close());

  it('Atom, RSS and JSON Feed: global, per country and per level, with ids, categories, content, enclosures and updated times', async () => {
    const kz = await published(h.ctx, { slug: 'feed-kz', title: 'Kazakhstan in the feed' });
    const watch = await published(h.ctx, { slug: 'feed-mm', title: 'Myanmar watch', countries: ['MM'], level: 'watch', image: undefined, attachments: [] });
    await storeAlert(h.ctx, { slug: 'feed-draft', title: 'Never in a feed' });

    for (const ext of ['atom', 'rss'] as const) {
      const { body, type } = await get(`/feeds/alerts.${ext}`);
      expect(type).toBe(ext === 'atom' ? 'application/atom+xml; charset=utf-8' : 'application/rss+xml; charset=utf-8');
      expect(xmllint(body)).toBe('');
      const feed = parseFeed(body);
      expect(feed.items.map((i) => i.title).sort()).toEqual(['Kazakhstan in the feed', 'Myanmar watch']);
      const item = feed.items.find((i) => i.title === 'Kazakhstan in the feed')!;
      expect(item.url).toBe(`${h.base}/alerts/feed-kz`);
      expect(item.id).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
      expect(item.categories.map((c) => c.label)).toEqual(expect.arrayContaining(['Genocide Emergency', 'Kazakhstan']));
      expect(item.content).toContain('<li>Stage 4 of 10: Dehumanization</li>');
      expect(item.content).toContain(kz.recommendations[0]);
      expect(item.media.map((m) => m.mimeType).sort()).toEqual(['application/pdf', 'image/jpeg']);
      expect(item.media.find((m) => m.mimeType === 'application/pdf')?.length).toBe(87000);
      expect(item.published?.toISOString()).toBe('2022-01-08T12:00:00.000Z');
      if (ext === 'atom') expect(item.updated?.getTime()).toBeGreaterThan(item.published!.getTime());
      expect(body).not.toContain('Never in a feed');
    }

    const country = parseFeed((await get('/feeds/countries/MM.atom')).body);
    expect(country.items.map((i) => i.title)).toEqual(['Myanmar watch']);
    const emergencies = parseFeed((await get('/feeds/levels/warning.rss')).body);
    expect(emergencies.items.map((i) => i.title)).toEqual(['Kazakhstan in the feed']);
    expect(parseFeed((await get('/feeds/levels/watch.atom')).body).items).toHaveLength(2);

    const json = await get('/feeds/alerts.json');
    expect(json.type).toBe('application/feed+json; charset=utf-8');
    const doc = JSON.parse(json.body);
    expect(validateJsonFeed(doc), ajv.errorsText(validateJsonFeed.errors)).toBe(true);
    const jsonItem = doc.items.find((i: { title: string }) => i.title === 'Kazakhstan in the feed');
    expect(jsonItem.attachments).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ mime_type: 'application/pdf', size_in_bytes: 87000 }),
        expect.objectContaining({ mime_type: 'image/jpeg' }),
      ]),
    );
    expect(jsonItem.tags).toEqual(expect.arrayContaining(['Genocide Emergency', 'Kazakhstan']));

    // The pages point feed readers at the feeds.
    const html = (await get('/')).body;
    expect(html).toContain(`<link rel="alternate" type="application/atom+xml" title="Genocide Watch Test alerts (Atom)" href="${h.base}/feeds/alerts.atom">`);
    expect(html).toContain(`type="application/feed+json"`);
    expect((await get('/countries/MM')).body).toContain(`href="${h.base}/feeds/countries/MM.rss"`);
    void watch;
  });

  it('a corrected and then retracted alert keeps its entry id, is marked, and gets a new updated time', async () => {
    const alert = await published(h.ctx, { slug: 'feed-versions', title: 'Versions in the feed', countries: ['ET'] });
    const before = parseFeed((await get('/feeds/countries/ET.atom')).body).items[0];
    await correct(h.ctx, alert, { summary: 'Corrected summary for the feed.' }, 'The number of people displaced was wrong.', new Date(Date.now() + 5000));
    const corrected = parseFeed((await get('/feeds/countries/ET.atom')).body).items[0];
    expect(corrected.id).toBe(before.id);
    expect(corrected.title).toBe('Corrected: Versions in the feed');
    expect(corrected.categories.map((c) => c.term)).toContain('corrected');
    expect(corrected.content).toContain('The number of people displaced was wrong.');
    expect(corrected.updated!.getTime()).toBeGreaterThan(before.updated!.getTime());

    await retract(h.ctx, alert, 'the reports came from a fabricated source.', new Date(Date.now() + 10_000));
    for (const ext of ['atom', 'rss'] as const) {
      const item = parseFeed((await get(`/feeds/countries/ET.${ext}`)).body).items[0];
      expect(item.id).toBe(before.id);
      expect(item.title).toBe('Retracted: Versions in the feed');
      expect(item.content).toContain('because the reports came from a fabricated source.');
    }
    const json = JSON.parse((await get('/feeds/countries/ET.json')).body);
    expect(validateJsonFeed(json), ajv.errorsText(validateJsonFeed.errors)).toBe(true);
    expect(json.items[0]).toMatchObject({ id: before.id, title: 'Retracted: Versions in the feed', _tocsin: { status: 'retracted', version: 3 } });
  });

  it('CAP: version 1 is an Alert, a correction an Update and a retraction a Cancel, each valid and referencing the one before', async () => {
    const alert = await published(h.ctx, { slug: 'cap-chain', title: 'CAP chain' });
    const v1 = (await get('/cap/cap-chain.xml')).body;
    expect(xmllint(v1, CAP_XSD)).toBe('');
    expect(v1).toContain('<msgType>Alert</msgType>');
    expect(v1).not.toContain('<references>');
    expect(v1).toMatch(/<sent>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00<\/sent>/);
    expect(v1).toContain('<category>Security</category>');
    expect(v1).toContain('<event>Genocide Emergency</event>');
    expect(v1).toContain('<urgency>Immediate</urgency>');
    expect(v1).toContain(`<web>${h.base}/alerts/cap-chain</web>`);
    expect(v1).toMatch(/<geocode>\s*<valueName>ISO 3166-1 alpha-2<\/valueName>\s*<value>KZ<\/value>/);
    expect(v1).toMatch(
      /<resource>\s*<resourceDesc>Kazakhstan Emergency Alert, January 2022 \(PDF\)<\/resourceDesc>\s*<mimeType>application\/pdf<\/mimeType>\s*<size>87000<\/size>/,
    );
    expect(v1).toContain(`<instruction>1. ${alert.recommendations[0]}`);
    const sender = /<sender>(.*?)<\/sender>/.exec(v1)![1];
    const id1 = /<identifier>(.*?)<\/identifier>/.exec(v1)![1];
    const sent1 = /<sent>(.*?)<\/sent>/.exec(v1)![1];
    expect(sender).toBe('127.0.0.1');

    await correct(h.ctx, alert, { title: 'CAP chain, corrected' }, 'Wrong date.', new Date(Date.now() + 3000));
    const v2 = (await get('/cap/cap-chain.xml')).body;
    expect(xmllint(v2, CAP_XSD)).toBe('');
    expect(v2).toContain('<msgType>Update</msgType>');
    expect(v2).toContain(`<references>${sender},${id1},${sent1}</references>`);
    expect((await get('/cap/cap-chain/v1.xml')).body).toBe(v1);

    await retract(h.ctx, alert, 'fabricated source', new Date(Date.now() + 6000));
    const v3 = (await get('/cap/cap-chain.xml')).body;
    expect(xmllint(v3, CAP_XSD)).toBe('');
    expect(v3).toContain('<msgType>Cancel</msgType>');
    const id2 = /<identifier>(.*?)<\/identifier>/.exec(v2)![1];
    expect(v3).toContain(`<references>${sender},${id2},${/<sent>(.*?)<\/sent>/.exec(v2)![1]}</references>`);

    const index = (await get('/cap/index.atom')).body;
    expect(xmllint(index)).toBe('');
    const entry = parseFeed(index).items.find((i) => i.url === `${h.base}/cap/cap-chain/v3.xml`);
    expect(entry?.title).toBe('Cancel: CAP chain, corrected');
    expect(index).toContain('type="application/cap+xml"');
  });

  it('CAP levels follow the configurable table; a report maps to its own row', async () => {
    const custom = await startHarness('public-cap-config', {
      public: { cap: { sender: 'alerts.example.org', identifierPrefix: 'gw-', levels: { watch: { event: 'Early warning', certainty: 'Unlikely' } } } },
    });
    try {
      const w = await published(custom.ctx, { slug: 'cap-watch', level: 'watch' });
      await published(custom.ctx, { slug: 'cap-report', level: null });
      const watch = await (await fetch(`${custom.base}/cap/cap-watch.xml`)).text();
      expect(xmllint(watch, CAP_XSD)).toBe('');
      expect(watch).toContain('<sender>alerts.example.org</sender>');
      expect(watch).toContain(`<identifier>gw-${w.id}-v1</identifier>`);
      expect(watch).toContain('<event>Early warning</event>');
      expect(watch).toContain('<urgency>Future</urgency>');
      expect(watch).toContain('<certainty>Unlikely</certainty>');
      const report = await (await fetch(`${custom.base}/cap/cap-report.xml`)).text();
      expect(xmllint(report, CAP_XSD)).toBe('');
      expect(report).toContain('<severity>Unknown</severity>');
    } finally {
      await custom.close();
    }
  });

  it('an alert that cancels another is a CAP Cancel referencing that alert', async () => {
    const first = await published(h.ctx, { slug: 'to-be-cancelled', countries: ['GT'] });
    await published(h.ctx, { slug: 'the-cancelling-one', countries: ['GT'], cancels: first.id });
    const original = (await get('/cap/to-be-cancelled.xml')).body;
    const cancel = (await get('/cap/the-cancelling-one.xml')).body;
    expect(xmllint(cancel, CAP_XSD)).toBe('');
    expect(cancel).toContain('<msgType>Cancel</msgType>');
    expect(cancel).toContain(`<references>127.0.0.1,${/<identifier>(.*?)<\/identifier>/.exec(original)![1]},`);
  });

  it('hostile alert text is escaped in every feed and CAP message, and the XML stays well-formed', async () => {
    const alert = await published(h.ctx, { slug: 'hostile-feed', ...hostileInput() });
    await correct(
      h.ctx,
      alert,
      { summary: 'Still <script>alert("v2")</script> ]]> \u0003 hostile' },
      'Note <img src=x onerror=alert(1)> ]]>',
      new Date(Date.now() + 2000),
    );
    for (const ext of ['atom', 'rss'] as const) {
      const { body } = await get(`/feeds/countries/SD.${ext}`);
      expect(xmllint(body), ext).toBe('');
      expect(body).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe]/);
      const item = parseFeed(body).items.find((i) => i.url === `${h.base}/alerts/hostile-feed`)!;
      // The text survives as text...
      expect(item.title).toBe('Corrected: Warning <script>alert("title")</script> "Darfur" ]]> & more');
      const [html] = entryHtml(body, ext === 'atom' ? 'content' : 'content:encoded');
      expect(html).toContain('&lt;script&gt;alert(“body”)&lt;/script&gt;');
      expect(html).toContain('Note &lt;img src=x onerror=alert(1)&gt; ]]&gt;');
      // ...and never as markup that runs.
      expect(dangerous(html), ext).toEqual([]);
    }
    const json = JSON.parse((await get('/feeds/countries/SD.json')).body);
    expect(validateJsonFeed(json), ajv.errorsText(validateJsonFeed.errors)).toBe(true);
    expect(dangerous(json.items[0].content_html)).toEqual([]);
    expect(json.items[0].title).toContain('<script>alert("title")</script>');
    for (const path of ['/cap/hostile-feed/v1.xml', '/cap/hostile-feed/v2.xml', '/cap/index.atom', '/sitemap.xml']) {
      const { body } = await get(path);
      expect(xmllint(body, path.startsWith('/cap/hostile') ? CAP_XSD : undefined), path).toBe('');
      expect(body).not.toContain('<script');
    }
    const v1 = (await get('/cap/hostile-feed/v1.xml')).body;
    expect(v1).toContain('<headline>Warning &lt;script&gt;alert("title")&lt;/script&gt; "Darfur" ]]&gt; &amp; more</headline>');
  });
});
