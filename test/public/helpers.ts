import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from '../../src/context.js';
import type { Alert, AlertInput } from '../../src/domain/alert.js';
import { publicFields } from '../../src/domain/public-alert.js';
import { publishAlert } from '../../src/publish/publish.js';
import type { AlertVersion } from '../../src/store/versions.js';
import { storeAlert } from '../helpers/fixtures.js';

// Shared by the public-record tests. Versions are appended through the store API
// (ctx.versions.appendVersion), which is what corrections and retractions call.

export const CAP_XSD = new URL('../../../shared/cap/cap12.xsd', import.meta.url).pathname;
export const OUT = new URL('../../test-results/', import.meta.url).pathname;

/** Hostile text in every field that takes text: markup, script URLs, handlers, CDATA ends, controls. */
export function hostileInput(): Partial<AlertInput> {
  return {
    level: 'warning',
    countries: ['SD'],
    region: 'North <svg onload=alert("region")> Darfur',
    title: 'Warning <script>alert("title")</script> "Darfur" ]]> & more',
    summary: 'Fighters <img src=x onerror=alert("summary")> advance ]]> \u0001\u0008 on the camps\u0007.',
    body: [
      'Reports say [click here](javascript:alert("body-link")) and <script>alert("body")</script> were seen.',
      '',
      '<a href="javascript:alert(3)" onclick="alert(4)">a raw link</a> and a CDATA end ]]> in the text.',
      '',
      'Control characters \u0002 and \u001b and a non-character \ufffe stay out of XML.',
    ].join('\n'),
    stages: [8],
    recommendations: ['<b onmouseover=alert("rec")>Protect</b> the camps ]]> now.'],
    image: {
      url: 'https://example.org/media/camp.jpg',
      alt: '"><script>alert("alt")</script> tents in a camp',
      caption: '</figcaption><script>alert("caption")</script>',
      credit: 'Agency <i onclick=alert(1)>x</i>',
      creditUrl: 'https://example.org/credit?a=1&b=2',
    },
    attachments: [{ url: 'https://example.org/doc.pdf?x=1&y=2', title: 'Doc <script>alert("doc")</script> ]]>', mediaType: 'application/pdf', bytes: 1234 }],
    canonicalUrl: undefined,
  };
}

/** Stores a draft from the example alert (with overrides) and publishes it: version 1 is appended. */
export async function published(ctx: Context, overrides: Partial<AlertInput> = {}): Promise<Alert> {
  const alert = await storeAlert(ctx, { canonicalUrl: undefined, ...overrides });
  await publishAlert(ctx, alert.id, 'tester');
  return (await ctx.alerts.get(alert.id))!;
}

export async function correct(ctx: Context, alert: Alert, changes: Partial<Alert>, note: string, at = new Date()): Promise<AlertVersion> {
  const latest = (await ctx.versions.latest(alert.id))!;
  const { version } = await ctx.versions.appendVersion({
    version: latest.version + 1,
    kind: 'correction',
    at: at.toISOString(),
    by: 'editor',
    note,
    alert: { ...publicFields(alert), ...latest.alert, ...changes },
  });
  return version;
}

export async function retract(ctx: Context, alert: Alert, reason: string, at = new Date()): Promise<AlertVersion> {
  const latest = (await ctx.versions.latest(alert.id))!;
  const { version } = await ctx.versions.appendVersion({
    version: latest.version + 1,
    kind: 'retraction',
    at: at.toISOString(),
    by: 'editor',
    reason,
    alert: latest.alert,
  });
  return version;
}

const scratch = mkdtempSync(join(tmpdir(), 'tocsin-xml-'));
let n = 0;

/** xmllint's verdict: '' when the document is well-formed (and valid against `schema` if given). */
export function xmllint(xml: string, schema?: string): string {
  const file = join(scratch, `doc-${n++}.xml`);
  writeFileSync(file, xml);
  try {
    execFileSync('xmllint', ['--noout', '--nonet', ...(schema ? ['--schema', schema] : []), file], { stdio: 'pipe' });
    return '';
  } catch (err) {
    return String((err as { stderr?: Buffer }).stderr ?? err);
  }
}

if (!existsSync(CAP_XSD)) throw new Error(`the CAP 1.2 schema is not at ${CAP_XSD}`);
