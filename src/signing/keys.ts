import { createHash, createPrivateKey, createPublicKey, generateKeyPair, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

// Ed25519 keys: read from PKCS#8 PEM, published as JWK, named by their RFC 7638 thumbprint, so a
// key id never has to be chosen by hand and two servers with one key agree on its name.

export interface PublicJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: PublicJwk;
}

/** RFC 7638: SHA-256 over the required members in lexical order, base64url. */
export function jwkThumbprint(x: string): string {
  return createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest('base64url');
}

export function publicJwk(publicKey: KeyObject): PublicJwk {
  const { x } = publicKey.export({ format: 'jwk' }) as { x: string };
  return { kty: 'OKP', crv: 'Ed25519', x, kid: jwkThumbprint(x), alg: 'EdDSA', use: 'sig' };
}

/** `what` names where the PEM came from, for the error. */
export function readSigningKey(pem: string, what: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new Error(`${what}: not a PEM private key (expected "-----BEGIN PRIVATE KEY-----"; \`tocsin keys generate\` prints one)`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${what}: must be an Ed25519 key, not ${privateKey.asymmetricKeyType}`);
  const publicKey = createPublicKey(privateKey);
  const jwk = publicJwk(publicKey);
  return { kid: jwk.kid, privateKey, publicKey, jwk };
}

/** Retired public keys: one or more PEM public keys (SPKI), one after the other. */
export function readRetiredKeys(pems: string, what: string): Array<{ kid: string; publicKey: KeyObject; jwk: PublicJwk }> {
  const blocks = pems.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
  if (!blocks.length) throw new Error(`${what}: expected one or more "-----BEGIN PUBLIC KEY-----" blocks`);
  return blocks.map((pem, i) => {
    const publicKey = createPublicKey(pem);
    if (publicKey.asymmetricKeyType !== 'ed25519') throw new Error(`${what}: key ${i + 1} must be an Ed25519 key, not ${publicKey.asymmetricKeyType}`);
    const jwk = publicJwk(publicKey);
    return { kid: jwk.kid, publicKey, jwk };
  });
}

export function generateEd25519Pem(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

export function generateRsaPem(): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** The same, off the event loop: a process that generates its development key keeps serving. */
export async function generateRsaPemAsync(): Promise<string> {
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}
