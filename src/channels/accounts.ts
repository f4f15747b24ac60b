import type { Context } from '../context.js';
import type { AccountChannel } from './types.js';
import { buildAccountChannels } from './registry.js';
import { RedisTokenStore } from '../store/social-tokens.js';

/**
 * Every configured account, ready to render: social providers registered with a Redis token
 * store, and adapters that read provider settings (Mastodon's character limit) prepared. A
 * provider that cannot be reached now keeps its defaults; delivery checks again.
 */
export async function createAccountChannels(ctx: Context, env: NodeJS.ProcessEnv = process.env): Promise<Map<string, AccountChannel>> {
  // Loaded here, not at start-up: the provider clients are large and most commands never post.
  const { registerSocialProviders, isPreparable } = await import('./social/index.js');
  registerSocialProviders({ tokenStore: new RedisTokenStore(ctx.redis, ctx.keys) });
  const accounts = buildAccountChannels(ctx.config, env);
  await Promise.all(
    [...accounts.values()].map((channel) =>
      isPreparable(channel)
        ? channel.prepare().catch((err: Error) => ctx.log.warn({ channel: channel.id, err: err.message }, 'could not read provider settings; using defaults'))
        : Promise.resolve(),
    ),
  );
  return accounts;
}
