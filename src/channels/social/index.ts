import { SOCIAL_FACTORIES } from '../registry.js';
import { BlueskyChannel } from './bluesky.js';
import { FacebookChannel } from './facebook.js';
import { MastodonChannel } from './mastodon.js';
import { TelegramChannel } from './telegram.js';
import type { SocialDeps } from './tokens.js';
import { XChannel } from './x.js';

// Social providers: one adapter per network, each behind the AccountChannel contract.
// Call registerSocialProviders() once at start-up, before buildAccountChannels(); calling it
// again replaces the factories (with new deps), which is harmless.

export function registerSocialProviders(deps: SocialDeps = {}): void {
  SOCIAL_FACTORIES.x = (account, env) => new XChannel(account, env, deps);
  SOCIAL_FACTORIES.mastodon = (account, env) => new MastodonChannel(account, env, deps);
  SOCIAL_FACTORIES.bluesky = (account, env) => new BlueskyChannel(account, env, deps);
  SOCIAL_FACTORIES.facebook = (account, env) => new FacebookChannel(account, env);
  SOCIAL_FACTORIES.telegram = (account, env) => new TelegramChannel(account, env);
}

/** Adapters that can read provider settings before rendering (Mastodon's character limit). */
export interface PreparableChannel {
  prepare(): Promise<unknown>;
}

export function isPreparable(channel: unknown): channel is PreparableChannel {
  return typeof (channel as PreparableChannel | null)?.prepare === 'function';
}

export { XChannel, MastodonChannel, BlueskyChannel, FacebookChannel, TelegramChannel };
export { MemoryTokenStore, type SocialDeps, type TokenSet, type TokenStore } from './tokens.js';
export { slackPayload, discordPayload, postChatWebhook, chatWebhookError, type ChatFormatOptions } from './chat-formats.js';
export { splitThread, ThreadSplitError } from './thread.js';
