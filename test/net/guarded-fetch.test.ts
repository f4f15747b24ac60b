import http from 'node:http';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAddress, parseAddressRange } from '../../src/net/address-policy.js';
import { GuardedFetchError } from '../../src/net/fetch-error.js';
import { GuardedFetcher, type FetchRequest } from '../../src/net/guarded-fetch.js';
import { AddressRefused, GuardedHttpAgent } from '../../src/net/guarded-connection.js';
import { IMAGE_TYPES } from '../../src/net/sniff.js';
import { configSchema } from '../../src/config/schema.js';
import { loadConfig } from '../../src/config/load.js';
import { parseAlertObject } from '../../src/domain/parse.js';
import { PNG_1X1 } from '../fakes/image-host.js';
import { Canary, HostileImageHost } from '../fakes/hostile-hosts.js';
import { MastodonChannel } from '../../src/channels/social/mastodon.js';
import { socialAccount } from '../social/helpers.js';

// The guarded fetcher against real sockets. The hostile host listens on 127.0.0.1 and stands for
// a public web server: the fetchers that reach it open exactly 127.0.0.1/32, as a config file
// would with fetch.allowPrivateAddresses. Canaries on 127.0.0.1 and 127.0.0.2 stand for internal
// services; a refusal must leave them without a single connection.

const MB = 1024 * 1024;
const IMAGE: FetchRequest = { what: 'image', accept: IMAGE_TYPES, maxBytes: 5 * MB, deadlineMs: 15_000 };
const TEST_HOST_ONLY = { allowPrivateAddresses: ['127.0.0.1/32'] };

async function failure(promise: Promise<unknown>): Promise<GuardedFetchError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(GuardedFetchError);
    return err as GuardedFetchError;
  }
  throw new Error('expected the fetch to fail, but it succeeded');
}

/** A resolver for names that exist only in this test (the lookup seam); counts its calls. */
function fakeDns(answers: (name: string, call: number) => string[] | undefined): LookupFunction & { calls: number } {
  const fn = ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    fn.calls++;
    const addresses = answers(hostname, fn.calls);
    if (!addresses) return void dnsLookup(hostname, options as never, callback as never);
    const list: LookupAddress[] = addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    if (options.all) callback(null, list);
    else callback(null, list[0].address, list[0].family);
  }) as unknown as LookupFunction & { calls: number };
  fn.calls = 0;
  return fn;
}

describe('which addresses an alert URL may reach', () => {
  const refused = [
    ['loopback', '127.0.0.1'],
    ['loopback (the whole /8)', '127.255.0.9'],
    ['private 10/8', '10.1.2.3'],
    ['private 172.16/12', '172.31.255.1'],
    ['private 192.168/16', '192.168.1.1'],
    ['CGNAT 100.64/10', '100.64.0.1'],
    ['link-local', '169.254.10.10'],
    ['metadata (AWS, GCP, Azure...)', '169.254.169.254'],
    ['metadata (Alibaba)', '100.100.100.200'],
    ['metadata (AWS IPv6)', 'fd00:ec2::254'],
    ['unspecified', '0.0.0.0'],
    ['this network 0/8', '0.1.2.3'],
    ['broadcast', '255.255.255.255'],
    ['multicast', '224.0.0.251'],
    ['documentation', '192.0.2.10'],
    ['documentation', '198.51.100.7'],
    ['documentation', '203.0.113.99'],
    ['benchmarking', '198.18.0.1'],
    ['reserved 240/4', '240.0.0.1'],
    ['IPv6 loopback', '::1'],
    ['IPv6 unspecified', '::'],
    ['IPv6 link-local', 'fe80::1'],
    ['IPv6 unique-local', 'fc00::1'],
    ['IPv6 unique-local', 'fd12:3456::1'],
    ['IPv6 multicast', 'ff02::1'],
    ['IPv6 documentation', '2001:db8::1'],
    ['IPv6 site-local (deprecated)', 'fec0::1'],
    ['IPv4-mapped loopback', '::ffff:127.0.0.1'],
    ['IPv4-mapped loopback, hex', '::ffff:7f00:1'],
    ['IPv4-mapped metadata', '::ffff:169.254.169.254'],
    ['IPv4-mapped private', '::ffff:10.0.0.1'],
    ['IPv4-translated loopback', '::ffff:0:7f00:1'],
    ['IPv4-compatible loopback', '::7f00:1'],
    ['IPv4-compatible private', '::10.0.0.1'],
    ['NAT64 of loopback', '64:ff9b::7f00:1'],
    ['NAT64 of metadata', '64:ff9b::a9fe:a9fe'],
    ['local-use NAT64', '64:ff9b:1::a00:1'],
    ['6to4 of loopback', '2002:7f00:1::'],
    ['6to4 of metadata', '2002:a9fe:a9fe::1'],
    ['Teredo', '2001:0:4136:e378:8000:63bf:3fff:fdd2'],
    ['not an address at all', 'localhost'],
  ];
  it.each(refused)('refuses %s: %s', (_what, address) => {
    expect(checkAddress(address).allowed).toBe(false);
  });

  it.each([
    ['public IPv4', '93.184.216.34'],
    ['public IPv6', '2606:4700:4700::1111'],
    ['IPv4-mapped public', '::ffff:93.184.216.34'],
    ['NAT64 of a public address (IPv6-only hosts with DNS64)', '64:ff9b::5db8:d822'],
    ['6to4 of a public address', '2002:5db8:d822::1'],
  ])('allows %s: %s', (_what, address) => {
    expect(checkAddress(address)).toEqual({ allowed: true });
  });

  it('allowPrivateAddresses opens loopback, private, CGNAT and unique-local ranges, never link-local or metadata', () => {
    const allowed = ['127.0.0.1/32', '10.0.0.0/8', '100.64.0.0/10', 'fd00::/8', '169.254.0.0/16', '224.0.0.0/4'].map(parseAddressRange);
    expect(checkAddress('127.0.0.1', allowed).allowed).toBe(true);
    expect(checkAddress('::ffff:127.0.0.1', allowed).allowed).toBe(true);
    expect(checkAddress('127.0.0.2', allowed).allowed).toBe(false);
    expect(checkAddress('10.9.8.7', allowed).allowed).toBe(true);
    expect(checkAddress('100.64.0.1', allowed).allowed).toBe(true);
    expect(checkAddress('fd12::1', allowed).allowed).toBe(true);
    expect(checkAddress('100.100.100.200', allowed)).toEqual({ allowed: false, reason: '100.100.100.200 is a cloud metadata address' });
    expect(checkAddress('fd00:ec2::254', allowed).allowed).toBe(false);
    expect(checkAddress('169.254.169.254', allowed).allowed).toBe(false);
    expect(checkAddress('169.254.1.1', allowed).allowed).toBe(false);
    expect(checkAddress('224.0.0.1', allowed).allowed).toBe(false);
  });

  it('takes CIDRs and bare addresses, and says what is wrong with anything else', () => {
    expect(parseAddressRange('127.0.0.1')[1]).toBe(32);
    expect(parseAddressRange('::1')[1]).toBe(128);
    expect(() => parseAddressRange('localhost')).toThrow('"localhost" is not an address or a CIDR range such as 127.0.0.1/32');
    expect(() => parseAddressRange('0177.0.0.1/32')).toThrow(/is not an address or a CIDR range/);
    expect(() => parseAddressRange('0.0.0.0/0')).toThrow('"0.0.0.0/0" would allow every address');
    expect(() => parseAddressRange('::/0')).toThrow(/would allow every address/);
  });
});

describe('the guarded fetcher against real sockets', () => {
  let host: HostileImageHost;
  /** An internal service on the loopback address itself. */
  let loopback: Canary;
  /** An internal service on 127.0.0.2, on the hostile host's own port (for rebinding). */
  let inner: Canary;
  const production = new GuardedFetcher();
  const testHostOnly = new GuardedFetcher(TEST_HOST_ONLY);

  beforeAll(async () => {
    host = await new HostileImageHost().start();
    loopback = await new Canary('127.0.0.1').start();
    inner = await new Canary('127.0.0.2').start(host.port);
  });
  afterAll(async () => {
    await Promise.all([host.close(), loopback.close(), inner.close()]);
  });

  it('fetches a PNG from an allowed host', async () => {
    const fetched = await testHostOnly.fetch(`${host.url}/lead.png`, IMAGE);
    expect(fetched.bytes.equals(PNG_1X1)).toBe(true);
    expect(fetched.mediaType).toBe('image/png');
  });

  it('refuses loopback in every notation, before any connection is made', async () => {
    const p = loopback.port;
    const before = loopback.connections;
    const urls = [
      `http://127.0.0.1:${p}/a.png`,
      `http://2130706433:${p}/a.png`, // decimal
      `http://0177.0.0.1:${p}/a.png`, // octal
      `http://017700000001:${p}/a.png`, // octal, one number
      `http://0x7f.1:${p}/a.png`, // hex, short
      `http://0x7f000001:${p}/a.png`, // hex, one number
      `http://127.1:${p}/a.png`, // short
      `http://127.0.0.1.:${p}/a.png`, // trailing dot
      `http://[::ffff:127.0.0.1]:${p}/a.png`, // IPv4-mapped
      `http://[::ffff:7f00:1]:${p}/a.png`, // IPv4-mapped, hex
      `http://[0:0:0:0:0:ffff:127.0.0.1]:${p}/a.png`,
      `http://[::127.0.0.1]:${p}/a.png`, // IPv4-compatible
      `http://[::1]:${p}/a.png`,
      `http://localhost:${p}/a.png`, // a name: resolved through /etc/hosts, then refused
      `http://0:${p}/a.png`, // 0.0.0.0 reaches the local machine
      `https://127.0.0.1:${p}/a.png`,
    ];
    for (const url of urls) {
      const err = await failure(production.fetch(url, IMAGE));
      expect({ url, failure: err.failure, transient: err.transient, message: err.message }).toEqual({
        url,
        failure: 'refused',
        transient: false,
        message: 'could not fetch the image',
      });
    }
    expect(loopback.connections).toBe(before);
  });

  it('refuses private, CGNAT, link-local, metadata, unique-local, multicast and documentation addresses, and IPv6 forms carrying them', async () => {
    const urls = [
      'http://10.0.0.1/a.png',
      'http://172.16.5.4/a.png',
      'http://192.168.0.1/a.png',
      'http://100.64.1.1/a.png',
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      'http://169.254.170.2/v2/credentials',
      'http://100.100.100.200/latest/meta-data/',
      'http://[fd00:ec2::254]/latest/meta-data/',
      'http://[fe80::1]/a.png',
      'http://[fc00::1]/a.png',
      'http://224.0.0.1/a.png',
      'http://255.255.255.255/a.png',
      'http://192.0.2.1/a.png',
      'http://[2001:db8::1]/a.png',
      'http://[::ffff:169.254.169.254]/latest/meta-data/',
      'http://[::ffff:a9fe:a9fe]/latest/meta-data/',
      'http://[::ffff:10.0.0.1]/a.png',
      'http://[64:ff9b::a9fe:a9fe]/latest/meta-data/', // NAT64
      'http://[2002:a9fe:a9fe::]/latest/meta-data/', // 6to4
      'http://0xa9fea9fe/latest/meta-data/', // 169.254.169.254 in hex
      'http://2852039166/latest/meta-data/', // ... and in decimal
    ];
    for (const url of urls) {
      const err = await failure(testHostOnly.fetch(url, IMAGE));
      expect({ url, failure: err.failure, transient: err.transient, message: err.message }).toEqual({
        url,
        failure: 'refused',
        transient: false,
        message: 'could not fetch the image',
      });
    }
  });

  it('a public-looking host that redirects inward is refused at the redirect, and the internal service sees nothing', async () => {
    const targets = [
      `http://127.0.0.2:${host.port}/secret`,
      `http://[::ffff:127.0.0.2]:${host.port}/secret`,
      `http://${2130706434}:${host.port}/secret`, // 127.0.0.2 in decimal
      'http://169.254.169.254/latest/meta-data/',
    ];
    for (const to of targets) {
      const before = host.hits.get('/redirect') ?? 0;
      const err = await failure(testHostOnly.fetch(`${host.url}/redirect?to=${encodeURIComponent(to)}`, IMAGE));
      expect(host.hits.get('/redirect')).toBe(before + 1);
      expect({ to, failure: err.failure, message: err.message }).toEqual({ to, failure: 'refused', message: 'could not fetch the image' });
      expect(err.detail).toMatch(/^refused /);
    }
    expect(inner.connections).toBe(0);
    expect(loopback.connections).toBe(0);
  });

  it('refuses a name that resolves to an internal address, or to any internal address among others', async () => {
    const dns = fakeDns((name) =>
      name === 'images.example.org'
        ? ['127.0.0.2']
        : name === 'mixed.example.org'
          ? ['127.0.0.1', '10.0.0.7']
          : name === 'meta.example.org'
            ? ['169.254.169.254']
            : undefined,
    );
    const fetcher = new GuardedFetcher(TEST_HOST_ONLY, { lookup: dns });
    for (const url of [
      `http://images.example.org:${host.port}/lead.png`,
      `http://mixed.example.org:${host.port}/lead.png`,
      'http://meta.example.org/latest/meta-data/',
    ]) {
      const err = await failure(fetcher.fetch(url, IMAGE));
      expect({ url, failure: err.failure, transient: err.transient }).toEqual({ url, failure: 'refused', transient: false });
    }
    expect(dns.calls).toBe(3);
    expect(inner.connections).toBe(0);
    // The same resolver, answering the allowed address: the fetch goes through.
    const fine = new GuardedFetcher(TEST_HOST_ONLY, { lookup: fakeDns((name) => (name === 'images.example.org' ? ['127.0.0.1'] : undefined)) });
    expect((await fine.fetch(`http://images.example.org:${host.port}/lead.png`, IMAGE)).mediaType).toBe('image/png');
  });

  it('DNS rebinding finds no gap: the address checked is the address connected to, on every hop', async () => {
    // First answer: the allowed host. Every later answer: the internal service on the same port.
    const rebinding = fakeDns((name, call) => (name === 'rebind.example.org' ? [call === 1 ? '127.0.0.1' : '127.0.0.2'] : undefined));
    const fetcher = new GuardedFetcher(TEST_HOST_ONLY, { lookup: rebinding });
    const fetched = await fetcher.fetch(`http://rebind.example.org:${host.port}/lead.png`, IMAGE);
    expect(fetched.bytes.equals(PNG_1X1)).toBe(true); // from the host that was checked
    expect(inner.connections).toBe(0);
    // A redirect back to the same name resolves again, and that answer is checked again.
    const err = await failure(fetcher.fetch(`http://rebind.example.org:${host.port}/redirect?to=/lead.png`, IMAGE));
    expect(err.failure).toBe('refused');
    expect(inner.connections).toBe(0);
  });

  it('checks the connected address again: a socket whose resolver skipped the check is closed before a byte is written', async () => {
    // The agent given a plain resolver (no check in the lookup): only the connect check stands.
    const agent = new GuardedHttpAgent({ allowed: [], lookup: dnsLookup as unknown as LookupFunction });
    const before = { connections: loopback.connections, bytes: loopback.bytes };
    const err = await new Promise<Error>((resolve) => {
      const req = http.get({ host: 'localhost', port: loopback.port, path: '/', agent }, () => resolve(new Error('answered')));
      req.on('error', resolve);
      // The canary never answers: without the check this request would wait for ever.
      req.setTimeout(5000, () => req.destroy(new Error('the request was sent and is waiting for an answer')));
    });
    expect(err).toBeInstanceOf(AddressRefused);
    expect((err as AddressRefused).reason).toBe('127.0.0.1 is a loopback address');
    // The TCP handshake happened (that is what is checked), the request was never sent.
    expect(loopback.connections).toBe(before.connections + 1);
    expect(loopback.bytes).toBe(before.bytes);
  });

  it('follows at most maxRedirects redirects', async () => {
    const viaRedirect = await testHostOnly.fetch(`${host.url}/redirect?to=/lead.png`, IMAGE);
    expect(viaRedirect.url).toBe(`${host.url}/lead.png`);
    const before = host.hits.get('/loop') ?? 0;
    const err = await failure(testHostOnly.fetch(`${host.url}/loop`, IMAGE));
    expect(err.failure).toBe('too-many-redirects');
    expect(err.message).toBe('could not fetch the image');
    expect(host.hits.get('/loop')).toBe(before + 4); // the first request and 3 redirects
    const none = new GuardedFetcher({ ...TEST_HOST_ONLY, maxRedirects: 0 });
    expect((await failure(none.fetch(`${host.url}/redirect?to=/lead.png`, IMAGE))).failure).toBe('too-many-redirects');
  });

  it('fetches http and https only, and no URL with credentials in it', async () => {
    for (const url of [
      'file:///etc/passwd',
      'ftp://example.org/a.png',
      `data:image/png;base64,${PNG_1X1.toString('base64')}`,
      'gopher://127.0.0.1:6379/_INFO',
      'javascript:alert(1)',
      `http://user:secret@127.0.0.1:${host.port}/lead.png`,
      'not a url',
    ]) {
      const err = await failure(testHostOnly.fetch(url, IMAGE));
      expect({ url, failure: err.failure, message: err.message }).toEqual({ url, failure: 'invalid-url', message: 'could not fetch the image' });
    }
    // A redirect to another scheme is refused the same way.
    const err = await failure(testHostOnly.fetch(`${host.url}/redirect?to=${encodeURIComponent('file:///etc/passwd')}`, IMAGE));
    expect(err.failure).toBe('invalid-url');
  });

  it('stops an endless chunked body at the byte cap, holding no more than the cap in memory', async () => {
    host.streamedBytes = 0;
    let peak = process.memoryUsage().rss;
    const baseline = peak;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    try {
      const err = await failure(testHostOnly.fetch(`${host.url}/endless.png?mb=200`, { ...IMAGE, maxBytes: 5 * MB, deadlineMs: 60_000 }));
      expect(err.failure).toBe('too-large');
      expect(err.transient).toBe(false);
      expect(err.message).toBe(`the image is larger than ${5 * MB} bytes`);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    if (process.env.TOCSIN_TEST_REPORT) console.log({ streamedMB: host.streamedBytes / MB, rssGrowthMB: (peak - baseline) / MB });
    // The download stopped soon after the cap (socket buffers aside), far from the 200 MB on offer...
    expect(host.streamedBytes).toBeLessThan(50 * MB);
    // ...and this process grew by far less than the body (a fetcher that read it all would grow by 200 MB+).
    expect(peak - baseline).toBeLessThan(50 * MB);
  });

  it('refuses a declared Content-Length over the cap without reading the body', async () => {
    const err = await failure(testHostOnly.fetch(`${host.url}/declared-huge.png`, IMAGE));
    expect(err.failure).toBe('too-large');
    expect(err.detail).toMatch(/Content-Length 1073741824/);
  });

  it('a host that never answers ends at the deadline, one that stalls at the idle timeout; both may succeed later', async () => {
    const slowIdle = new GuardedFetcher({ ...TEST_HOST_ONLY, idleTimeoutMs: 60_000 });
    const silent = await failure(slowIdle.fetch(`${host.url}/silent.png`, { ...IMAGE, deadlineMs: 400 }));
    expect({ failure: silent.failure, transient: silent.transient, message: silent.message }).toEqual({
      failure: 'timeout',
      transient: true,
      message: 'could not fetch the image',
    });
    expect(silent.detail).toBe('fetching the image did not finish within 400 ms');

    const quickIdle = new GuardedFetcher({ ...TEST_HOST_ONLY, idleTimeoutMs: 300 });
    const stalled = await failure(quickIdle.fetch(`${host.url}/stalls.png`, { ...IMAGE, deadlineMs: 60_000 }));
    expect({ failure: stalled.failure, transient: stalled.transient }).toEqual({ failure: 'timeout', transient: true });
    expect(stalled.detail).toBe('idle timeout: no data for 300 ms');
  });

  it('reads the type from the bytes: HTML labelled image/png is refused, a PNG labelled text/plain is a PNG', async () => {
    const html = await failure(testHostOnly.fetch(`${host.url}/html-labelled-png.png`, IMAGE));
    expect(html.failure).toBe('wrong-type');
    expect(html.transient).toBe(false);
    expect(html.message).toBe('the image is not one of image/jpeg, image/png, image/gif, image/webp');
    expect(html.detail).toMatch(/Content-Type: image\/png/);

    const png = await testHostOnly.fetch(`${host.url}/png-labelled-text`, IMAGE);
    expect(png.mediaType).toBe('image/png');
    expect(png.bytes.equals(PNG_1X1)).toBe(true);

    // What the caller takes decides: a PNG is not a PDF attachment.
    const notPdf = await failure(testHostOnly.fetch(`${host.url}/lead.png`, { ...IMAGE, what: 'attachment', accept: ['application/pdf'] }));
    expect(notPdf.failure).toBe('wrong-type');
    expect(notPdf.message).toBe('the attachment is not one of application/pdf');
  });

  it('gives the same public words for an internal address, a closed port and a 404; only failures of public hosts are transient', async () => {
    const touchedBefore = loopback.connections;
    const closed = await new Canary('127.0.0.1').start();
    await closed.close(); // its port is now closed
    const internal = await failure(production.fetch(`http://127.0.0.1:${loopback.port}/lead.png`, IMAGE));
    const closedPort = await failure(testHostOnly.fetch(`http://127.0.0.1:${closed.port}/lead.png`, IMAGE));
    const notFound = await failure(testHostOnly.fetch(`${host.url}/missing.png`, IMAGE));
    const down = await failure(testHostOnly.fetch(`${host.url}/down.png`, IMAGE));
    const words = [internal, closedPort, notFound, down].map((e) => ({ message: e.message, publicReason: e.publicReason }));
    expect(new Set(words.map((w) => JSON.stringify(w))).size).toBe(1);
    expect(words[0]).toEqual({ message: 'could not fetch the image', publicReason: 'could not fetch the image' });
    // The logs get the truth.
    expect(internal.detail).toBe(`refused 127.0.0.1: 127.0.0.1 is a loopback address`);
    expect(closedPort.detail).toMatch(/^ECONNREFUSED/);
    expect(notFound.detail).toBe(`HTTP 404 from ${host.url}/missing.png`);
    // A refused address is never worth another try; a public host that is down may come back.
    expect([internal.transient, closedPort.transient, notFound.transient, down.transient]).toEqual([false, true, false, true]);
    expect(loopback.connections).toBe(touchedBefore);
  });
});

describe('the escape hatch comes from the config file only', () => {
  it('fetch.allowPrivateAddresses defaults to none and names a bad entry', () => {
    expect(configSchema.parse({}).fetch).toEqual({ allowPrivateAddresses: [], maxRedirects: 3, idleTimeoutMs: 10_000 });
    expect(() => loadConfig({ path: '/dev/null', env: {}, overrides: { fetch: { allowPrivateAddresses: ['127.0.0.1/32', 'intranet'] } } })).toThrow(
      'fetch.allowPrivateAddresses.1: "intranet" is not an address or a CIDR range such as 127.0.0.1/32',
    );
    expect(() => loadConfig({ path: '/dev/null', env: {}, overrides: { fetch: { allowPrivateAddresses: ['0.0.0.0/0'] } } })).toThrow(
      'fetch.allowPrivateAddresses.0: "0.0.0.0/0" would allow every address',
    );
    expect(() => loadConfig({ path: '/dev/null', env: {}, overrides: { fetch: { allowPrivateAddress: ['127.0.0.1'] } } })).toThrow(/allowPrivateAddress/);
  });

  it('an alert cannot carry it, and neither can an account option', () => {
    const alert = {
      level: 'watch',
      countries: ['KZ'],
      title: 'Tocsin test',
      summary: 'A test.',
      image: { url: 'http://127.0.0.1:6379/', alt: 'x' },
    };
    expect(() => parseAlertObject({ ...alert, fetch: { allowPrivateAddresses: ['127.0.0.1/32'] } })).toThrow(/fetch/);
    expect(parseAlertObject({ ...alert, image: { ...alert.image, allowPrivateAddresses: ['127.0.0.1/32'] } }).image).not.toHaveProperty(
      'allowPrivateAddresses',
    );
    const account = socialAccount({
      id: 'masto',
      provider: 'mastodon',
      baseUrl: 'https://mastodon.example',
      credentialsEnv: { accessToken: 'T' },
      options: { allowPrivateAddresses: ['127.0.0.1/32'] },
    });
    expect(() => new MastodonChannel(account, {})).toThrow('social.masto.options.allowPrivateAddresses: is not an option of provider mastodon');
    // The fetcher's settings are frozen once made from the config.
    const fetcher = new GuardedFetcher();
    expect(Object.isFrozen(fetcher)).toBe(true);
  });
});
