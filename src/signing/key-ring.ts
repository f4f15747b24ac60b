import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import type { Keys } from '../store/keys.js';
import { signingSecrets, type SigningSecrets } from '../config/signing-env.js';
import { generateEd25519Pem, generateRsaPemAsync, readRetiredKeys, readSigningKey } from './keys.js';
import { AlertSigner } from './signer.js';
import { readCapKey, readRetiredCapKeys, type CapKey } from './cap-signer.js';

// Where the signing keys come from. The environment in production. With no key and a loopback
// public URL (the quick start, tests), a development key is generated once and kept in Redis,
// like the token secret, and every page that shows health says so. Anywhere else a missing key
// is a refusal to start a publishing process, with how to make one.

export interface SigningState {
  enabled: boolean;
  /** Null when signing is off, or no key is set (see `problem`). */
  signer: AlertSigner | null;
  cap: CapKey | null;
  /** True when a key was generated into Redis because none was set (loopback public URL only). */
  development: boolean;
  /** Why a publishing process may not start: no key and not a loopback public URL. */
  problem?: string;
}

export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

async function storedKey(redis: Redis, keys: Keys, name: string, make: () => string | Promise<string>): Promise<string> {
  const key = keys.meta(name);
  const existing = await redis.get(key);
  if (existing) return existing;
  await redis.set(key, await make(), 'NX');
  const stored = await redis.get(key);
  if (!stored) throw new Error(`could not read the generated ${name} from Redis`);
  return stored;
}

export async function loadSigning(redis: Redis, keys: Keys, config: Config, secrets: SigningSecrets = signingSecrets(config)): Promise<SigningState> {
  const s = config.signing;
  if (!s.enabled) return { enabled: false, signer: null, cap: null, development: false };
  const local = isLoopbackUrl(config.http.publicUrl);
  let development = false;
  let signingPem = secrets.signingKey;
  let capPem = secrets.capKey;
  if (!signingPem || !capPem) {
    if (!local) {
      const missing = [!signingPem ? s.signingKeyEnv : undefined, !capPem ? s.capSigningKeyEnv : undefined].filter(Boolean).join(' and ');
      return {
        enabled: true,
        signer: null,
        cap: null,
        development: false,
        problem: `${missing} ${missing.includes(' and ') ? 'are' : 'is'} not set, and every published alert must be signed. Run \`tocsin keys generate\` and set the variables it prints, or set signing.enabled: false in the configuration.`,
      };
    }
    development = true;
    signingPem ??= await storedKey(redis, keys, 'dev-signing-key', () => generateEd25519Pem().privatePem);
    capPem ??= await storedKey(redis, keys, 'dev-cap-signing-key', generateRsaPemAsync);
  }
  const current = readSigningKey(signingPem, s.signingKeyEnv);
  const retired = secrets.retiredKeys ? readRetiredKeys(secrets.retiredKeys, s.retiredSigningKeysEnv).filter((r) => r.kid !== current.kid) : [];
  return {
    enabled: true,
    signer: new AlertSigner(current, retired, config.http.publicUrl),
    cap: readCapKey(capPem, s.capSigningKeyEnv, secrets.retiredCapKeys ? readRetiredCapKeys(secrets.retiredCapKeys, s.retiredCapSigningKeysEnv) : []),
    development,
  };
}
