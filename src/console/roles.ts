import { createHmac } from 'node:crypto';
import type { Config, ConsoleRole } from '../config/schema.js';
import type { Logger } from '../log.js';
import { secretsEqual } from '../http/auth.js';
import { processEnvironment } from '../config/environment.js';

// Console roles, lowest first: viewer (look), editor (write drafts), publisher (approve, publish,
// schedule, retry: anything that sends to the public).
export const ROLE_RANK: Record<ConsoleRole, number> = { viewer: 0, editor: 1, publisher: 2 };
export const hasRole = (have: ConsoleRole, need: ConsoleRole): boolean => ROLE_RANK[have] >= ROLE_RANK[need];

export interface RoleToken {
  /** The environment variable it came from; shown to staff, never the token itself. */
  source: string;
  role: ConsoleRole;
  /** Fixed actor name for this token (one token per person). */
  name?: string;
  /** HMAC of the token: sessions keep this, so rotating a token ends its sessions. */
  fingerprint: string;
  token: string;
}

const MIN_TOKEN_LENGTH = 16;

/** The login tokens configured through the environment, TOCSIN_ADMIN_TOKEN acting as publisher. */
export class RoleTokens {
  private readonly tokens: RoleToken[] = [];

  constructor(config: Config, secret: string, env: NodeJS.ProcessEnv = processEnvironment(), log?: Logger) {
    const fingerprint = (token: string) => createHmac('sha256', secret).update(`console-token:${token}`).digest('hex').slice(0, 32);
    const add = (source: string, role: ConsoleRole, token: string | undefined, name?: string) => {
      if (!token) return;
      if (token.length < MIN_TOKEN_LENGTH) {
        log?.warn({ variable: source }, `console token in ${source} is shorter than ${MIN_TOKEN_LENGTH} characters and is ignored`);
        return;
      }
      if (this.tokens.some((t) => secretsEqual(t.token, token))) {
        log?.warn({ variable: source }, `console token in ${source} is the same as another one; the first keeps its role`);
        return;
      }
      this.tokens.push({ source, role, token, fingerprint: fingerprint(token), ...(name ? { name } : {}) });
    };
    for (const t of config.console.tokens) add(t.env, t.role, env[t.env], t.name);
    add('TOCSIN_ADMIN_TOKEN', 'publisher', config.secrets.adminToken);
  }

  /** Compares with every token (constant time each), so timing does not tell which one matched. */
  match(candidate: string): RoleToken | undefined {
    let found: RoleToken | undefined;
    for (const t of this.tokens) if (secretsEqual(candidate, t.token) && !found) found = t;
    return found;
  }

  byFingerprint(fingerprint: string): RoleToken | undefined {
    return this.tokens.find((t) => t.fingerprint === fingerprint);
  }

  get size(): number {
    return this.tokens.length;
  }
}
