import { describe, expect, it } from 'vitest';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { checkDkim, type DkimDns } from '../../src/channels/email/dkim-check.js';
import { testConfig } from '../helpers/context.js';
import { cliEnv, runCli } from '../helpers/cli.js';

// `tocsin dkim check`: the records to publish come from the private keys, and the comparison with
// DNS is tested with answers given at the DNS boundary (no network here).

const pem = (type: 'rsa' | 'ed25519') =>
  (type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519')).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;

const config = { domain: 'example.org', selector: 'tocsin1', privateKeyEnv: 'K_RSA', ed25519: { selector: 'tocsin1e', privateKeyEnv: 'K_ED' } };
const env = { K_RSA: pem('rsa'), K_ED: pem('ed25519') };
const spki = (key: string) => createPublicKey(key).export({ type: 'spki', format: 'der' });

function fakeDns(records: Record<string, string[][]>, options: { zone?: boolean; error?: string } = {}): DkimDns {
  return {
    async resolveTxt(name) {
      if (options.error) throw Object.assign(new Error(`queryTxt ${options.error} ${name}`), { code: options.error });
      if (records[name]) return records[name];
      throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    },
    async resolveSoa(name) {
      if (options.zone === false) throw Object.assign(new Error(`querySoa ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      return { nsname: 'ns.example.org' };
    },
  };
}

describe('tocsin dkim check', () => {
  it('derives the records from the private keys: RSA SubjectPublicKeyInfo, and the bare 32-byte Ed25519 key (RFC 8463)', async () => {
    const [rsa, ed] = await checkDkim(config, fakeDns({}), env);
    expect(rsa.record.name).toBe('tocsin1._domainkey.example.org');
    expect(rsa.record.value).toBe(`v=DKIM1; k=rsa; p=${spki(env.K_RSA).toString('base64')}`);
    expect(rsa.record.strings.every((s) => s.length <= 255)).toBe(true);
    expect(rsa.record.strings.join('')).toBe(rsa.record.value);
    expect(ed.record.name).toBe('tocsin1e._domainkey.example.org');
    expect(ed.record.value).toBe(`v=DKIM1; k=ed25519; p=${spki(env.K_ED).subarray(-32).toString('base64')}`);
  });

  it('says whether each published record matches, differs, is missing, or could not be looked up', async () => {
    const [rsa, ed] = await checkDkim(config, fakeDns({}), env);
    const published = {
      [rsa.record.name]: [rsa.record.strings, ['google-site-verification=abc']],
      [ed.record.name]: [[`v=DKIM1; k=ed25519; p=${Buffer.alloc(32, 7).toString('base64')}`]],
    };
    const results = await checkDkim(config, fakeDns(published), env);
    expect(results.map((r) => r.state)).toEqual(['match', 'differs']);
    expect(results[1].detail).toMatch(/another key/);

    const missing = await checkDkim(config, fakeDns({}), env);
    expect(missing.map((r) => r.state)).toEqual(['missing', 'missing']);

    // NXDOMAIN for the domain itself too: DNS here knows nothing, which is not "not published".
    const noZone = await checkDkim(config, fakeDns({}, { zone: false }), env);
    expect(noZone.map((r) => r.state)).toEqual(['unreachable', 'unreachable']);
    expect(noZone[0].detail).toMatch(/could not look up/);

    const refused = await checkDkim(config, fakeDns({}, { error: 'ECONNREFUSED' }), env);
    expect(refused.map((r) => r.state)).toEqual(['unreachable', 'unreachable']);
    expect(refused[0].detail).toMatch(/could not look up .*ECONNREFUSED/);
  });

  it('names the variable when a key is missing or of the wrong kind', async () => {
    await expect(checkDkim(config, fakeDns({}), { K_RSA: env.K_RSA })).rejects.toThrow(/K_ED is not set/);
    await expect(checkDkim(config, fakeDns({}), { K_RSA: env.K_ED, K_ED: env.K_ED })).rejects.toThrow(/K_RSA: expected an RSA private key/);
  });

  it('the command prints the record and says clearly that DNS could not be reached (exit 2)', async () => {
    // A UDP port nobody listens on: the lookup is refused at once, as with no DNS at all.
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const port = socket.address().port;
    socket.close();
    const cfg = testConfig('dkim-cli', {
      email: { from: 'Alerts <alerts@example.org>', dkim: { domain: 'example.org', selector: 'tocsin1', privateKeyEnv: 'K_RSA' } },
    });
    const result = await runCli(['dkim', 'check', '--dns-server', `127.0.0.1:${port}`, '--timeout', '2000'], cliEnv(cfg, { K_RSA: env.K_RSA }));
    expect(result.code).toBe(2);
    expect(result.stdout).toContain('tocsin1._domainkey.example.org. IN TXT ( "v=DKIM1; k=rsa; p=');
    expect(result.stdout.replace(/" "/g, '')).toContain(spki(env.K_RSA).toString('base64'));
    expect(result.stdout).toMatch(/COULD NOT LOOK UP/);
    expect(result.stdout).toMatch(/DNS could not be reached from here/);
  });
});
