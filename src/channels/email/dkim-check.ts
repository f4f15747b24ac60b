import { Resolver } from 'node:dns/promises';
import { withDeadline } from '../../net/deadline.js';
import { dkimDnsRecord, loadDkimKeys, parseDkimRecord, publicKeyTag, type DkimConfig, type DkimDnsRecord, type DkimKey } from './dkim-keys.js';
import { processEnvironment } from '../../config/environment.js';

// What `tocsin dkim check` does: the TXT record each configured key needs, and whether DNS
// publishes it. The DNS lookup is the one outside call, given as a function so tests (and
// --dns-server) can choose where it goes.

/** The DNS questions asked: TXT records (the strings of each, as node:dns returns them) and a zone's SOA. */
export interface DkimDns {
  resolveTxt(name: string): Promise<string[][]>;
  /** Resolves when the domain exists; tells "no record" apart from "DNS answers nothing at all". */
  resolveSoa(name: string): Promise<unknown>;
}

export type PublishedState = 'match' | 'differs' | 'missing' | 'unreachable';

export interface DkimCheckResult {
  key: DkimKey;
  record: DkimDnsRecord;
  state: PublishedState;
  /** What DNS said, in words. */
  detail: string;
}

const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN']);

/** The system's resolver, or the servers given ("127.0.0.1:5353"), each lookup cut off after timeoutMs. */
export function systemDns(servers?: string[], timeoutMs = 5000): DkimDns {
  const ask = <T>(what: string, question: (resolver: Resolver) => Promise<T>) => {
    const resolver = new Resolver({ timeout: Math.min(timeoutMs, 2000), tries: 2 });
    if (servers?.length) resolver.setServers(servers);
    return withDeadline(
      timeoutMs,
      (signal) => {
        signal.addEventListener('abort', () => resolver.cancel(), { once: true });
        return question(resolver);
      },
      { what },
    );
  };
  return {
    resolveTxt: (name) => ask(`DNS TXT lookup of ${name}`, (r) => r.resolveTxt(name)),
    resolveSoa: (name) => ask(`DNS SOA lookup of ${name}`, (r) => r.resolveSoa(name)),
  };
}

export async function checkDkim(config: DkimConfig, dns: DkimDns, env: NodeJS.ProcessEnv = processEnvironment()): Promise<DkimCheckResult[]> {
  const results: DkimCheckResult[] = [];
  for (const key of loadDkimKeys(config, env)) {
    const record = dkimDnsRecord(key);
    let answers: string[][];
    try {
      answers = await dns.resolveTxt(record.name);
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (NOT_FOUND.has(code)) {
        // "Not found" is only believable from a DNS that knows the domain itself.
        const zone = await dns.resolveSoa(key.domain).then(
          () => true,
          () => false,
        );
        results.push(
          zone
            ? { key, record, state: 'missing', detail: `no TXT record at ${record.name} (${code})` }
            : {
                key,
                record,
                state: 'unreachable',
                detail: `could not look up ${record.name}: DNS here does not know ${key.domain} at all (${code}); either DNS is not reachable from here or the domain does not exist`,
              },
        );
      } else results.push({ key, record, state: 'unreachable', detail: `could not look up ${record.name}: ${(err as Error).message}` });
      continue;
    }
    const dkim = answers.map((strings) => strings.join('')).filter((text) => /(^|;)\s*p\s*=/.test(text));
    if (dkim.length === 0) {
      results.push({ key, record, state: 'missing', detail: `TXT records at ${record.name}, but none is a DKIM key (no p=)` });
      continue;
    }
    const expected = publicKeyTag(key);
    const match = dkim.find((text) => parseDkimRecord(text).get('p') === expected);
    if (match) {
      const k = parseDkimRecord(match).get('k') ?? 'rsa';
      const wantK = key.algorithm === 'rsa-sha256' ? 'rsa' : 'ed25519';
      results.push(
        k === wantK
          ? { key, record, state: 'match', detail: 'the published record matches this key' }
          : { key, record, state: 'differs', detail: `the published record has k=${k}; it must be k=${wantK}` },
      );
    } else {
      const revoked = dkim.some((text) => parseDkimRecord(text).get('p') === '');
      results.push({
        key,
        record,
        state: 'differs',
        detail: revoked ? 'the published record revokes the key (empty p=)' : 'the published record is for another key (its p= differs)',
      });
    }
  }
  return results;
}
