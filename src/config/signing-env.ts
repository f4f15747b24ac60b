import type { Config } from './schema.js';
import { processEnvironment } from './environment.js';

/** The signing keys' PEM text, from the variables `signing.*Env` name (README "Signatures and verification"). */
export interface SigningSecrets {
  signingKey?: string;
  retiredKeys?: string;
  capKey?: string;
  retiredCapKeys?: string;
}

export function signingSecrets(config: Pick<Config, 'signing'>, env: NodeJS.ProcessEnv = processEnvironment()): SigningSecrets {
  const read = (name: string) => (env[name]?.trim() ? env[name] : undefined);
  return {
    signingKey: read(config.signing.signingKeyEnv),
    retiredKeys: read(config.signing.retiredSigningKeysEnv),
    capKey: read(config.signing.capSigningKeyEnv),
    retiredCapKeys: read(config.signing.retiredCapSigningKeysEnv),
  };
}
