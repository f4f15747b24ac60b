import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnMarked, killTree } from '../helpers/cli.js';
import { startHarness, type Harness } from '../subscriptions/harness.js';
import { published } from '../public/helpers.js';

// The README's standalone recipe, run exactly as written: it needs only the saved JWK set and
// Node's WebCrypto, says "authentic" for a real alert, and "NOT AUTHENTIC" for a changed one.

const README = new URL('../../README.md', import.meta.url).pathname;

function recipe(): string {
  const text = readFileSync(README, 'utf8');
  const m = /<!-- verify-recipe -->\n```js\n([\s\S]*?)```/.exec(text);
  if (!m) throw new Error('README has no <!-- verify-recipe --> code block');
  return m[1];
}

function run(dir: string, url: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawnMarked(process.execPath, ['verify.mjs', url], { PATH: process.env.PATH }, { cwd: dir });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const timer = setTimeout(() => killTree(child), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('README verification recipe', () => {
  let h: Harness;
  let forger: Server;
  let forgerBase = '';
  const dir = mkdtempSync(join(tmpdir(), 'tocsin-recipe-'));

  beforeAll(async () => {
    h = await startHarness('readme-recipe');
    await published(h.ctx, { slug: 'recipe-alert', title: 'Genocide Emergency: Recipe check' });
    writeFileSync(join(dir, 'verify.mjs'), recipe());
    writeFileSync(join(dir, 'jwks.json'), await (await fetch(`${h.base}/.well-known/jwks.json`)).text());
    // A copy of the alert with one word changed, served with the real signature.
    const document = (await (await fetch(`${h.base}/alerts/recipe-alert.json`)).text()).replace('Recipe check', 'Recipe cheque');
    const signature = await (await fetch(`${h.base}/alerts/recipe-alert.sig`)).text();
    forger = createServer((req, res) => res.end(req.url?.endsWith('.json') ? document : signature));
    await new Promise<void>((r) => forger.listen(0, '127.0.0.1', r));
    forgerBase = `http://127.0.0.1:${(forger.address() as { port: number }).port}`;
  }, 60_000);
  afterAll(async () => {
    await new Promise((r) => forger?.close(r));
    await h?.close();
  });

  it('says authentic for a published alert and NOT AUTHENTIC for a changed copy', async () => {
    const ok = await run(dir, `${h.base}/alerts/recipe-alert`);
    expect(ok.out.trim()).toBe('authentic: Genocide Emergency: Recipe check (version 1, published)');
    expect(ok.code).toBe(0);
    const forged = await run(dir, `${forgerBase}/alerts/recipe-alert`);
    expect(forged.out.trim()).toBe('NOT AUTHENTIC');
    // Nothing from Tocsin: Node alone.
    expect(recipe()).not.toMatch(/from '\.\.?\//);
  });
});
