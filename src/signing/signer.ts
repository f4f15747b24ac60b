import { createPrivateKey, sign, verify, type KeyObject } from 'node:crypto';
import type { PublicJwk, SigningKey } from './keys.js';
import { canonicalJson } from './canonical.js';
import { signedDocument } from './signed-document.js';
import type { AlertVersion, VersionSignature } from '../store/versions.js';

// Signs each published version's canonical document with the current key, and verifies with the
// current key or a retired one, so rotating keys leaves every earlier signature checkable.

export type VerifyOutcome = 'valid' | 'invalid' | 'unknown-key';

export class AlertSigner {
  private readonly verifiers: Map<string, KeyObject>;

  constructor(
    readonly current: SigningKey,
    readonly retired: Array<{ kid: string; publicKey: KeyObject; jwk: PublicJwk }>,
    private readonly publicUrl: string,
  ) {
    this.verifiers = new Map([[current.kid, current.publicKey], ...retired.map((r) => [r.kid, r.publicKey] as [string, KeyObject])]);
  }

  /** The signature of a version: over its canonical document, which is kept with it. */
  signVersion(version: Omit<AlertVersion, 'signature'>): VersionSignature {
    const document = canonicalJson(signedDocument(version, this.publicUrl));
    return { kid: this.current.kid, alg: 'EdDSA', sig: this.sign(document), document };
  }

  sign(document: string): string {
    return sign(null, Buffer.from(document, 'utf8'), this.current.privateKey).toString('base64url');
  }

  verify(document: string, kid: string, sig: string): VerifyOutcome {
    const key = this.verifiers.get(kid);
    if (!key) return 'unknown-key';
    const bytes = Buffer.from(sig, 'base64url');
    if (bytes.length !== 64) return 'invalid';
    return verify(null, Buffer.from(document, 'utf8'), key, bytes) ? 'valid' : 'invalid';
  }

  /** The JWK set published at /.well-known/jwks.json: the current key first. */
  jwks(): { keys: PublicJwk[] } {
    return { keys: [this.current.jwk, ...this.retired.map((r) => r.jwk)] };
  }
}

/** For tests and `tocsin keys generate`: a private key object from PEM. */
export const privateKeyFrom = (pem: string): KeyObject => createPrivateKey(pem);
