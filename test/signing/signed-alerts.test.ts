import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import canonicalize from 'canonicalize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../subscriptions/harness.js';
import { CAP_XSD, correct, hostileInput, published, retract, xmllint } from '../public/helpers.js';
import type { Alert } from '../../src/domain/alert.js';
import { publicFields } from '../../src/domain/public-alert.js';

// Item 6 of issue 9: every published version is signed, and the signature verifies with nothing
// but the published JWK and WebCrypto; changing any one field breaks it. CAP messages carry an
// XML Signature that xmlsec1 (libxmlsec, an independent implementation) accepts.

const scratch = mkdtempSync(join(tmpdir(), 'tocsin-sig-'));

type Jwk = { kty: string; crv: string; x: string; kid: string; alg: string; use: string };

async function verifyWithJwk(jwk: Jwk, document: string, sig: string): Promise<boolean> {
  const key = await webcrypto.subtle.importKey('jwk', { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, { name: 'Ed25519' }, false, ['verify']);
  return webcrypto.subtle.verify({ name: 'Ed25519' }, key, Buffer.from(sig, 'base64url'), new TextEncoder().encode(document));
}

/** Every leaf of a JSON value, with a changed copy of the whole value for each. */
function* mutations(value: unknown, path: string[] = []): Generator<[string, (root: unknown) => void]> {
  const set = (root: unknown, v: unknown) => {
    let node = root as Record<string, unknown>;
    for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
    node[path[path.length - 1]] = v;
  };
  if (Array.isArray(value)) {
    if (!value.length) yield [path.join('.') || '(root)', (root) => set(root, ['added'])];
    for (let i = 0; i < value.length; i++) yield* mutations(value[i], [...path, String(i)]);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) yield* mutations(v, [...path, k]);
  } else {
    const changed = typeof value === 'string' ? `${value}.` : typeof value === 'number' ? value + 1 : value === null ? 'x' : !value;
    yield [path.join('.'), (root) => set(root, changed)];
  }
}

describe('signed alerts', () => {
  let h: Harness;
  let alert: Alert;
  let jwks: { keys: Jwk[] };

  beforeAll(async () => {
    h = await startHarness('signed-alerts');
    alert = await published(h.ctx, { ...hostileInput(), slug: 'signed-one' });
    await correct(h.ctx, alert, { title: 'Corrected title' }, 'The title was wrong.');
    await retract(h.ctx, alert, 'The report could not be confirmed.');
    jwks = (await (await fetch(`${h.base}/.well-known/jwks.json`)).json()) as typeof jwks;
  }, 60_000);
  afterAll(async () => h?.close());

  it('publishes the key as a JWK set with a key id, the algorithm and a cache lifetime', async () => {
    const res = await fetch(`${h.base}/.well-known/jwks.json`);
    expect(res.headers.get('content-type')).toMatch(/^application\/jwk-set\+json/);
    expect(res.headers.get('cache-control')).toMatch(/max-age=\d+/);
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(jwks.keys[0].kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(h.ctx.signing.development).toBe(true);
    // The quick start's generated key is visible where health probes look.
    expect(await (await fetch(`${h.base}/healthz`)).json()).toEqual({ ok: true, signing: 'development-key' });
  });

  it('each version verifies with only the JWK and WebCrypto, and fails after any single field changes', async () => {
    for (const path of ['/alerts/signed-one/v/1', '/alerts/signed-one/v/2', '/alerts/signed-one/v/3', '/alerts/signed-one']) {
      const document = await (await fetch(`${h.base}${path}.json`)).text();
      const sig = (await (await fetch(`${h.base}${path}.sig`)).json()) as { kid: string; alg: string; sig: string };
      const jwk = jwks.keys.find((k) => k.kid === sig.kid)!;
      expect(sig.alg).toBe('EdDSA');
      expect(await verifyWithJwk(jwk, document, sig.sig)).toBe(true);
      const parsed = JSON.parse(document) as Record<string, unknown>;
      // The served form is the RFC 8785 canonical form.
      expect(canonicalize(parsed)).toBe(document);
      let checked = 0;
      for (const [field, change] of mutations(parsed)) {
        const copy = structuredClone(parsed);
        change(copy);
        const tampered = canonicalize(copy)!;
        expect(tampered, field).not.toBe(document);
        expect(await verifyWithJwk(jwk, tampered, sig.sig), `changed ${field}`).toBe(false);
        checked++;
      }
      expect(checked).toBeGreaterThan(25);
    }
    // Every public field of the alert is covered: a field added to the alert later must be added here too.
    const v1 = JSON.parse(await (await fetch(`${h.base}/alerts/signed-one/v/1.json`)).text()) as { id: string; alert: Record<string, unknown> };
    const fields = publicFields(alert);
    for (const key of Object.keys(fields)) expect(key === 'id' ? v1.id : v1.alert[key], `alert.${key} is signed`).toBeDefined();
    expect(Object.keys(v1.alert.image as object).sort()).toEqual(Object.keys(fields.image!).sort());
    expect(Object.keys((v1.alert.attachments as object[])[0]).sort()).toEqual(Object.keys(fields.attachments[0]).sort());
    const v3 = JSON.parse(await (await fetch(`${h.base}/alerts/signed-one.json`)).text()) as Record<string, unknown>;
    expect(v3).toMatchObject({ version: 3, kind: 'retraction', status: 'retracted', reason: 'The report could not be confirmed.', issuer: h.base });
    expect(v3.previousVersionId).toBe(`${alert.id}.v2`);
    const v2 = JSON.parse(await (await fetch(`${h.base}/alerts/signed-one/v/2.json`)).text()) as { alert: { title: string }; note: string };
    expect(v2.alert.title).toBe('Corrected title');
    expect(v2.note).toBe('The title was wrong.');
  });

  it('links the signed JSON and signature from the page, and serves nothing for unpublished or unknown alerts', async () => {
    const html = await (await fetch(`${h.base}/alerts/signed-one/v/2`)).text();
    expect(html).toContain(
      `<link rel="alternate" type="application/json" title="This version, as the signed canonical JSON" href="${h.base}/alerts/signed-one/v/2.json">`,
    );
    expect(html).toContain(`href="${h.base}/alerts/signed-one/v/2.sig"`);
    expect((await fetch(`${h.base}/alerts/no-such-alert.json`)).status).toBe(404);
    expect((await fetch(`${h.base}/alerts/signed-one/v/9.sig`)).status).toBe(404);
  });

  it('CAP messages carry an XML Signature that passes the XSD and verifies with xmlsec1', async () => {
    const pem = await (await fetch(`${h.base}/.well-known/tocsin-cap-key.pem`)).text();
    const keyFile = join(scratch, 'cap-key.pem');
    writeFileSync(keyFile, pem);
    for (const n of [1, 2, 3]) {
      const xml = await (await fetch(`${h.base}/cap/signed-one/v${n}.xml`)).text();
      expect(xml).toContain('<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">');
      expect(xmllint(xml, CAP_XSD)).toBe('');
      const file = join(scratch, `cap-${n}.xml`);
      writeFileSync(file, xml);
      const ok = spawnSync('xmlsec1', ['--verify', '--pubkey-pem', keyFile, file], { encoding: 'utf8' });
      expect(ok.status, ok.stderr).toBe(0);
      expect(ok.stderr).toMatch(/^OK/m);
      const tampered = join(scratch, `cap-${n}-tampered.xml`);
      writeFileSync(tampered, xml.replace('<scope>Public</scope>', '<scope>Private</scope>'));
      const bad = spawnSync('xmlsec1', ['--verify', '--pubkey-pem', keyFile, tampered], { encoding: 'utf8' });
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toMatch(/^FAIL/m);
    }
  });
});
