import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';

// CAP messages carry an enveloped XML Signature (CAP 1.2 takes one as the last child of <alert>):
// RSA-SHA256 over the exclusive canonical form of the whole message. xml-crypto (node-saml) is the
// maintained XML-DSig library for Node. <KeyInfo> names the key (KeyName: SHA-256 of its SPKI,
// base64url) and carries its RSAKeyValue; the same key is published as PEM at
// /.well-known/tocsin-cap-key.pem, and a verifier should trust that, not the key in the message.

export const DSIG_NS = 'http://www.w3.org/2000/09/xmldsig#';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

export interface CapKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicPem: string;
  /** Earlier public keys: messages they signed still verify. */
  retired: KeyObject[];
}

/** Retired CAP public keys: one or more PEM public keys (SPKI), one after the other. */
export function readRetiredCapKeys(pems: string, what: string): KeyObject[] {
  const blocks = pems.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
  if (!blocks.length) throw new Error(`${what}: expected one or more "-----BEGIN PUBLIC KEY-----" blocks`);
  return blocks.map((pem, i) => {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`${what}: key ${i + 1} must be an RSA key, not ${key.asymmetricKeyType}`);
    return key;
  });
}

export function readCapKey(pem: string, what: string, retired: KeyObject[] = []): CapKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new Error(`${what}: not a PEM private key (\`tocsin keys generate\` prints one)`);
  }
  if (privateKey.asymmetricKeyType !== 'rsa') throw new Error(`${what}: must be an RSA key, not ${privateKey.asymmetricKeyType}`);
  const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 2048) throw new Error(`${what}: an RSA key of at least 2048 bits is needed, this one has ${bits}`);
  const publicKey = createPublicKey(privateKey);
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return {
    kid: createHash('sha256').update(der).digest('base64url'),
    privateKey,
    publicKey,
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    retired,
  };
}

const b64 = (s: string) => Buffer.from(s, 'base64url').toString('base64');

/** Signs a finished CAP message: the <Signature> is appended as the last child of <alert>. */
export function signCapXml(xml: string, key: CapKey): string {
  const jwk = key.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  const sig = new SignedXml({
    privateKey: key.privateKey.export({ format: 'pem', type: 'pkcs8' }),
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
    getKeyInfoContent: () =>
      `<KeyName>${key.kid}</KeyName><KeyValue><RSAKeyValue><Modulus>${b64(jwk.n)}</Modulus><Exponent>${b64(jwk.e)}</Exponent></RSAKeyValue></KeyValue>`,
  });
  sig.addReference({ xpath: '/*', digestAlgorithm: SHA256, transforms: [ENVELOPED, EXC_C14N], isEmptyUri: true });
  sig.computeSignature(xml, { location: { reference: '/*', action: 'append' } });
  return sig.getSignedXml();
}

export type CapCheck = { outcome: 'valid'; signedXml: string } | { outcome: 'unsigned' | 'invalid'; detail: string };

/**
 * Checks a CAP message's enveloped signature against our key. Returns the XML the signature
 * covers (what a caller should read from, never the document as given: that defeats wrapping).
 */
export function checkCapSignature(xml: string, publicKey: KeyObject | KeyObject[]): CapCheck {
  const keys = Array.isArray(publicKey) ? publicKey : [publicKey];
  let first: CapCheck | undefined;
  for (const key of keys) {
    const check = checkWithKey(xml, key);
    if (check.outcome === 'valid' || check.outcome === 'unsigned') return check;
    first ??= check;
  }
  return first ?? { outcome: 'invalid', detail: 'no key to check with' };
}

function checkWithKey(xml: string, publicKey: KeyObject): CapCheck {
  let doc: Document;
  try {
    doc = new DOMParser({
      onError: (level, msg) => {
        if (level !== 'warning') throw new Error(msg);
      },
    }).parseFromString(xml, 'text/xml') as unknown as Document;
  } catch (err) {
    return { outcome: 'invalid', detail: `not well-formed XML: ${(err as Error).message.split('\n')[0]}` };
  }
  const root = doc.documentElement;
  if (!root) return { outcome: 'invalid', detail: 'not well-formed XML' };
  const signatures = Array.from(root.childNodes as unknown as ArrayLike<Node>).filter(
    (n): n is Element => n.nodeType === 1 && (n as Element).localName === 'Signature' && (n as Element).namespaceURI === DSIG_NS,
  );
  if (!signatures.length) return { outcome: 'unsigned', detail: 'the message has no XML Signature' };
  if (signatures.length > 1) return { outcome: 'invalid', detail: 'the message has more than one XML Signature' };
  const sig = new SignedXml({ publicCert: publicKey.export({ format: 'pem', type: 'spki' }), getCertFromKeyInfo: () => null });
  try {
    sig.loadSignature(signatures[0]);
    if (!sig.checkSignature(xml)) return { outcome: 'invalid', detail: 'the signature does not match the message' };
  } catch (err) {
    return { outcome: 'invalid', detail: (err as Error).message.split('\n')[0] };
  }
  const refs = sig.getSignedReferences();
  const whole = sig.getReferences();
  if (refs.length !== 1 || whole.length !== 1 || whole[0].uri !== '') return { outcome: 'invalid', detail: 'the signature does not cover the whole message' };
  return { outcome: 'valid', signedXml: refs[0] };
}
