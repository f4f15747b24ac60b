import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { Config } from '../../config/schema.js';
import { errors } from '../../errors.js';
import { processEnvironment } from '../../config/environment.js';

// DKIM keys come from the environment only (config names the variables). An RSA key signs every
// message (rsa-sha256, what every receiver checks); an optional Ed25519 key adds a second
// signature (ed25519-sha256, RFC 8463) for receivers that check it.

export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';

export interface DkimKey {
  algorithm: DkimAlgorithm;
  domain: string;
  selector: string;
  key: KeyObject;
  /** The environment variable it came from, for messages. */
  env: string;
}

export type DkimConfig = NonNullable<Config['email']['dkim']>;

/** A key as PEM (literal "\n" allowed, as env files often carry it) or base64 of PKCS#8 DER. */
function parseKey(text: string, env: string, type: 'rsa' | 'ed25519'): KeyObject {
  const value = text.trim().replace(/\\n/g, '\n');
  let key: KeyObject;
  try {
    key = value.includes('-----BEGIN') ? createPrivateKey(value) : createPrivateKey({ key: Buffer.from(value, 'base64'), format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new Error(`${env}: not a readable private key (PEM or base64 PKCS#8): ${(err as Error).message}`, { cause: err });
  }
  if (key.asymmetricKeyType !== type)
    throw new Error(`${env}: expected an ${type === 'rsa' ? 'RSA' : 'Ed25519'} private key, got ${key.asymmetricKeyType ?? 'another kind'}`);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  // RFC 8301: receivers must refuse RSA keys under 1024 bits; 2048 is what large providers expect.
  if (type === 'rsa' && bits < 1024) throw errors.CONFIG_INVALID(`email.dkim: ${env}: the RSA key has ${bits} bits; DKIM needs at least 1024 (use 2048)`);
  return key;
}

/** The configured keys, read from the environment; throws naming the variable when one is missing or wrong. */
export function loadDkimKeys(config: DkimConfig, env: NodeJS.ProcessEnv = processEnvironment()): DkimKey[] {
  const read = (name: string, type: 'rsa' | 'ed25519') => {
    const text = env[name];
    if (!text)
      throw errors.CONFIG_INVALID(
        `email.dkim: ${name} is not set: put the ${type === 'rsa' ? 'RSA' : 'Ed25519'} private key (PEM) in it (\`tocsin dkim keygen${type === 'rsa' ? '' : ' --ed25519'}\` makes one)`,
      );
    return parseKey(text, name, type);
  };
  const keys: DkimKey[] = [
    { algorithm: 'rsa-sha256', domain: config.domain, selector: config.selector, key: read(config.privateKeyEnv, 'rsa'), env: config.privateKeyEnv },
  ];
  if (config.ed25519) {
    const { selector, privateKeyEnv } = config.ed25519;
    keys.push({ algorithm: 'ed25519-sha256', domain: config.domain, selector, key: read(privateKeyEnv, 'ed25519'), env: privateKeyEnv });
  }
  return keys;
}

/** The p= value: base64 SubjectPublicKeyInfo for RSA, the bare 32-byte key for Ed25519 (RFC 8463). */
export function publicKeyTag(key: DkimKey): string {
  const spki = createPublicKey(key.key).export({ type: 'spki', format: 'der' });
  return (key.algorithm === 'ed25519-sha256' ? spki.subarray(spki.length - 32) : spki).toString('base64');
}

export interface DkimDnsRecord {
  /** selector._domainkey.domain */
  name: string;
  /** The TXT value: v=DKIM1; k=rsa; p=... */
  value: string;
  /** The value cut into strings of at most 255 characters, as DNS TXT records hold them. */
  strings: string[];
}

export function dkimDnsRecord(key: DkimKey): DkimDnsRecord {
  const value = `v=DKIM1; k=${key.algorithm === 'rsa-sha256' ? 'rsa' : 'ed25519'}; p=${publicKeyTag(key)}`;
  const strings: string[] = [];
  for (let i = 0; i < value.length; i += 255) strings.push(value.slice(i, i + 255));
  return { name: `${key.selector}._domainkey.${key.domain}`, value, strings };
}

/** Tag=value pairs of a DKIM key record ("v=DKIM1; k=rsa; p=MIIB..."), spaces inside values removed. */
export function parseDkimRecord(text: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).replace(/\s+/g, ''));
  }
  return tags;
}
