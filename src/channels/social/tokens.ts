import type { Logger } from '../../log.js';
import type { GuardedFetcher } from '../../net/guarded-fetch.js';

// Tokens that change while the service runs (X's OAuth 2.0 access and refresh tokens). X refresh
// tokens are single-use: after a refresh only the new one works, so a process that restarts with
// the refresh token from the environment can no longer log in unless the new pair was kept.

export interface TokenSet {
  accessToken?: string;
  refreshToken: string;
  /** Epoch ms when the access token stops working. */
  expiresAt?: number;
  scope?: string[];
}

/** Where refreshed tokens are kept across restarts and shared between worker processes. */
export interface TokenStore {
  load(channelId: string): Promise<TokenSet | undefined>;
  save(channelId: string, tokens: TokenSet): Promise<void>;
}

/** What the factories may be given besides the account config and the environment. */
export interface SocialDeps {
  tokenStore?: TokenStore;
  /** Fetches the lead image; made from the config's `fetch` section. Default: public addresses only. */
  fetcher?: GuardedFetcher;
  /** Where the real reason for a left-out image goes (staff see only generic words). */
  log?: Logger;
}

/** Keeps tokens in this process only (the default when no store is given; tests). */
export class MemoryTokenStore implements TokenStore {
  private readonly tokens = new Map<string, TokenSet>();
  async load(channelId: string): Promise<TokenSet | undefined> {
    return this.tokens.get(channelId);
  }
  async save(channelId: string, tokens: TokenSet): Promise<void> {
    this.tokens.set(channelId, { ...tokens });
  }
}
