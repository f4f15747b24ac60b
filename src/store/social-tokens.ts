import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import type { TokenSet, TokenStore } from '../channels/social/tokens.js';

/**
 * Refreshed OAuth tokens (X's refresh tokens work once), shared by every worker process and
 * kept across restarts. They are credentials: protect Redis as you protect the environment.
 */
export class RedisTokenStore implements TokenStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async load(channelId: string): Promise<TokenSet | undefined> {
    const raw = await this.redis.hget(this.keys.socialTokens(), channelId);
    return raw ? (JSON.parse(raw) as TokenSet) : undefined;
  }

  async save(channelId: string, tokens: TokenSet): Promise<void> {
    await this.redis.hset(this.keys.socialTokens(), channelId, JSON.stringify(tokens));
  }
}
