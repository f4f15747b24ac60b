import type { Command } from 'commander';
import { generateEd25519Pem, generateRsaPem, readSigningKey } from '../../signing/keys.js';
import { readCapKey } from '../../signing/cap-signer.js';
import { fail, print } from '../runtime.js';

// `tocsin keys generate`: new signing keys, printed as the environment lines to set. Nothing is
// stored: the operator puts them in the secret store the deployment uses.

const envLine = (name: string, pem: string) => `${name}="${pem.trim()}"`;

export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description('signing keys for alerts (Ed25519) and CAP messages (RSA)');
  keys
    .command('generate')
    .description('print a new Ed25519 alert-signing key and RSA CAP-signing key as environment lines to set')
    .option('--only <which>', 'just one key: "alert" or "cap"')
    .action((opts: { only?: string }) => {
      try {
        if (opts.only && opts.only !== 'alert' && opts.only !== 'cap') throw new Error('--only: must be "alert" or "cap"');
        print('# Set these in the environment of every Tocsin process (never in the configuration file).');
        if (opts.only !== 'cap') {
          const { privatePem, publicPem } = generateEd25519Pem();
          const key = readSigningKey(privatePem, 'new key');
          print(`# Ed25519 alert-signing key, key id (kid) ${key.kid}.`);
          print('# When you rotate it, keep this public key verifiable: add it to TOCSIN_SIGNING_RETIRED_KEYS:');
          for (const line of publicPem.trim().split('\n')) print(`#   ${line}`);
          print(envLine('TOCSIN_SIGNING_KEY', privatePem));
        }
        if (opts.only !== 'alert') {
          const pem = generateRsaPem();
          print(`# RSA 2048 key for the CAP messages' XML Signature, key name ${readCapKey(pem, 'new key').kid}.`);
          print(envLine('TOCSIN_CAP_SIGNING_KEY', pem));
        }
      } catch (err) {
        fail(err);
      }
    });
}
