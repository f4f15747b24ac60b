import { afterAll, describe, expect, it } from 'vitest';
import { cliEnv, runCli, startCli, killTree, exited } from '../helpers/cli.js';
import { freePort } from '../subscriptions/harness.js';
import { testConfig, dropPrefix, waitFor } from '../helpers/context.js';
import { createContext, type Context } from '../../src/context.js';
import { createLogger } from '../../src/log.js';
import { readSigningKey, generateEd25519Pem, generateRsaPemAsync } from '../../src/signing/keys.js';
import { capMessage } from '../../src/public/cap/cap-message.js';
import { readCapKey, signCapXml } from '../../src/signing/cap-signer.js';
import { Verifier } from '../../src/signing/verify.js';
import { published } from '../public/helpers.js';

// Keys: `tocsin keys generate`, refusing to start or publish without a key when the public URL is
// not a loopback one, and rotation: a retired key keeps the signatures it made verifiable.

/** The PEM values of `NAME="..."` lines. */
function envLines(stdout: string): Record<string, string> {
  return Object.fromEntries([...stdout.matchAll(/^([A-Z_]+)="([^"]+)"$/gm)].map((m) => [m[1], m[2]]));
}

describe('signing keys', () => {
  const opened: Context[] = [];
  afterAll(async () => {
    for (const ctx of opened.reverse()) {
      await dropPrefix(ctx).catch(() => undefined);
      await ctx.close();
    }
  });

  it('tocsin keys generate prints both keys as environment lines, with the key id', async () => {
    const { code, stdout } = await runCli(['keys', 'generate'], { PATH: process.env.PATH });
    expect(code).toBe(0);
    const env = envLines(stdout);
    const key = readSigningKey(env.TOCSIN_SIGNING_KEY, 'TOCSIN_SIGNING_KEY');
    expect(stdout).toContain(`key id (kid) ${key.kid}`);
    expect(readCapKey(env.TOCSIN_CAP_SIGNING_KEY, 'TOCSIN_CAP_SIGNING_KEY').privateKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('refuses to start or publish without a key when the public URL is not a loopback one, saying how to get one', async () => {
    const config = testConfig('keys-refuse', { http: { publicUrl: 'https://alerts.example.org' } });
    const env = cliEnv(config);
    for (const args of [['start'], ['worker'], ['api'], ['publish', 'examples/kazakhstan-2022-01.md']]) {
      const { code, stderr } = await runCli(args, env);
      expect(code, args.join(' ')).toBe(1);
      expect(stderr, args.join(' ')).toMatch(
        /TOCSIN_SIGNING_KEY and TOCSIN_CAP_SIGNING_KEY are not set.*`tocsin keys generate`.*signing\.enabled: false.*\[TOCSIN_ERR_SIGNING_KEY_MISSING\]/s,
      );
    }
    // With the keys `tocsin keys generate` printed, the same command publishes, signed with that key.
    const keys = envLines((await runCli(['keys', 'generate'], { PATH: process.env.PATH })).stdout);
    const ok = await runCli(['publish', 'examples/kazakhstan-2022-01.md'], { ...env, ...keys });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const ctx = await createContext(config, { log: createLogger('silent'), env: keys });
    opened.push(ctx);
    const alert = await ctx.alerts.require('kazakhstan-emergency-2022-01');
    const version = await ctx.versions.get(alert.id, 1);
    expect(version?.signature?.kid).toBe(readSigningKey(keys.TOCSIN_SIGNING_KEY, 'x').kid);
    expect(ctx.signing.development).toBe(false);
  });

  it('the quick start (loopback public URL, no keys) starts with a development key, and says so loudly', async () => {
    const port = await freePort();
    const config = testConfig('keys-dev', { http: { port, publicUrl: `http://localhost:${port}` } });
    const server = startCli(['start'], cliEnv(config, { LOG_LEVEL: 'warn' }));
    try {
      await waitFor(async () => /SIGNING WITH A DEVELOPMENT KEY/.test(server.output()), `the development-key warning\n${server.output()}`, 60_000, 100);
      const health = await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.json() as Promise<{ signing: string }> | undefined,
        `tocsin start to answer /healthz\n${server.output()}`,
        60_000,
        200,
      );
      expect(health.signing).toBe('development-key');
    } finally {
      killTree(server);
      await exited(server);
    }
    const ctx = await createContext(config, { log: createLogger('silent'), env: {} });
    opened.push(ctx);
    expect(ctx.signing.development).toBe(true);
  });

  it('after a rotation the retired key still verifies what it signed, and new versions use the new key', async () => {
    const config = testConfig('keys-rotate');
    const a = generateEd25519Pem();
    const b = generateEd25519Pem();
    const capA = await generateRsaPemAsync();
    const capB = await generateRsaPemAsync();
    const before = await createContext(config, { log: createLogger('silent'), env: { TOCSIN_SIGNING_KEY: a.privatePem, TOCSIN_CAP_SIGNING_KEY: capA } });
    opened.push(before);
    const old = await published(before, { slug: 'before-rotation' });
    const after = await createContext(config, {
      log: createLogger('silent'),
      env: {
        TOCSIN_SIGNING_KEY: b.privatePem,
        TOCSIN_SIGNING_RETIRED_KEYS: a.publicPem,
        TOCSIN_CAP_SIGNING_KEY: capB,
        TOCSIN_CAP_SIGNING_RETIRED_KEYS: before.signing.cap!.publicPem,
      },
    });
    opened.push(after);
    const kidA = readSigningKey(a.privatePem, 'a').kid;
    const kidB = readSigningKey(b.privatePem, 'b').kid;
    expect(after.signing.signer!.jwks().keys.map((k) => k.kid)).toEqual([kidB, kidA]);
    const fresh = await published(after, { slug: 'after-rotation' });
    expect((await after.versions.get(fresh.id, 1))?.signature?.kid).toBe(kidB);
    const oldVersion = (await after.versions.get(old.id, 1))!;
    expect(oldVersion.signature?.kid).toBe(kidA);
    const answer = await new Verifier(after).verify({ json: oldVersion.signature!.document, signature: oldVersion.signature });
    expect(answer.verdict).toBe('authentic');
    // Without the retired key, the old signature's key is unknown: "not from us", with the reason.
    // A CAP message signed with the retired CAP key still verifies.
    const oldCap = capMessage(before.config, oldVersion, { pageUrl: 'http://127.0.0.1:8080/alerts/before-rotation' }, (xml) =>
      signCapXml(xml, before.signing.cap!),
    );
    expect((await new Verifier(after).verify({ cap: oldCap })).verdict).toBe('authentic');
    const forgetful = await createContext(config, { log: createLogger('silent'), env: { TOCSIN_SIGNING_KEY: b.privatePem, TOCSIN_CAP_SIGNING_KEY: capB } });
    opened.push(forgetful);
    const lost = await new Verifier(forgetful).verify({ json: oldVersion.signature!.document, signature: oldVersion.signature });
    expect(lost.verdict).toBe('not-from-us');
    expect(lost.details[0]).toMatch(/key .* has never used/);
    expect((await new Verifier(forgetful).verify({ cap: oldCap })).verdict).toBe('not-from-us');
  });
});
