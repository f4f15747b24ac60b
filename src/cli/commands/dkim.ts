import { generateKeyPairSync } from 'node:crypto';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { checkDkim, systemDns, type DkimDns } from '../../channels/email/dkim-check.js';
import { fail, print } from '../runtime.js';

// `tocsin dkim check` prints the DNS TXT record(s) to publish for the configured DKIM key(s),
// derived from the private keys in the environment, and compares them with what DNS publishes.
// `tocsin dkim keygen` prints a new private key to put in the environment.

/** Exit codes: 0 every record is published and matches; 1 one is missing or differs; 2 DNS could not be asked. */
export async function runDkimCheck(dns: DkimDns, out: (line?: string) => void = print): Promise<number> {
  const config = loadConfig();
  const dkim = config.email.dkim;
  if (!dkim) {
    out('DKIM is not configured. Add to the configuration file:');
    out('  email:');
    out('    dkim: { domain: example.org, selector: tocsin1, privateKeyEnv: TOCSIN_DKIM_PRIVATE_KEY }');
    out('and put an RSA private key in that variable (`tocsin dkim keygen` makes one).');
    return 1;
  }
  const fromDomain = /@([^>\s]+)>?\s*$/.exec(config.email.from)?.[1]?.toLowerCase() ?? '';
  if (fromDomain && fromDomain !== dkim.domain.toLowerCase() && !fromDomain.endsWith(`.${dkim.domain.toLowerCase()}`))
    out(`note: the From address's domain (${fromDomain}) is not ${dkim.domain} or below it, so DMARC will not count this signature as aligned.`);
  const results = await checkDkim(dkim, dns);
  let code = 0;
  for (const r of results) {
    const bits = r.key.key.asymmetricKeyDetails?.modulusLength;
    out(`${r.key.algorithm}, selector ${r.key.selector}, domain ${r.key.domain} (key from ${r.key.env}${bits ? `, ${bits} bits` : ''})`);
    out('  publish this TXT record:');
    out(`  ${r.record.name}. IN TXT ( ${r.record.strings.map((s) => `"${s}"`).join(' ')} )`);
    const word = { match: 'OK', differs: 'DIFFERS', missing: 'NOT PUBLISHED', unreachable: 'COULD NOT LOOK UP' }[r.state];
    out(`  published: ${word}: ${r.detail}`);
    out();
    if (r.state === 'differs' || r.state === 'missing') code = 1;
    else if (r.state === 'unreachable' && code === 0) code = 2;
  }
  if (code === 2) out('DNS could not be reached from here: the records above could not be checked. Run this again where DNS works.');
  return code;
}

export function registerDkimCommands(program: Command): void {
  const dkim = program.command('dkim').description('DKIM signing: the DNS records to publish, and whether they are published');
  dkim
    .command('check')
    .description('print the DNS TXT record for each configured DKIM key and compare it with what DNS publishes')
    .option('--dns-server <address...>', 'ask these DNS servers (ip or ip:port) instead of the system resolver')
    .option('--timeout <ms>', 'give up on a DNS lookup after this long', '5000')
    .action(async (opts: { dnsServer?: string[]; timeout: string }) => {
      try {
        const timeout = Number(opts.timeout);
        if (!Number.isInteger(timeout) || timeout < 100) throw new Error('--timeout: must be a whole number of milliseconds, at least 100');
        process.exitCode = await runDkimCheck(systemDns(opts.dnsServer, timeout));
      } catch (err) {
        fail(err);
      }
    });
  dkim
    .command('keygen')
    .description('print a new private key (PEM) for TOCSIN_DKIM_PRIVATE_KEY (RSA 2048) or, with --ed25519, for the Ed25519 key')
    .option('--ed25519', 'an Ed25519 key instead of RSA')
    .action((opts: { ed25519?: boolean }) => {
      const { privateKey } = opts.ed25519 ? generateKeyPairSync('ed25519') : generateKeyPairSync('rsa', { modulusLength: 2048 });
      process.stdout.write(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    });
}
