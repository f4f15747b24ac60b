import type { Config, SocialAccountConfig } from '../config/schema.js';
import type { AccountChannel } from './types.js';
import { WebhookChannel } from './webhook.js';

export type AccountFactory = (account: SocialAccountConfig, env: NodeJS.ProcessEnv) => AccountChannel;

/** Social providers register here (src/channels/social/). */
export const SOCIAL_FACTORIES: Partial<Record<SocialAccountConfig['provider'], AccountFactory>> = {};

/** Every configured account, by channel id. Ids are unique across webhooks and social accounts. */
export function buildAccountChannels(config: Config, env: NodeJS.ProcessEnv = process.env): Map<string, AccountChannel> {
  const channels = new Map<string, AccountChannel>();
  const add = (channel: AccountChannel) => {
    if (channel.id === 'email' || channels.has(channel.id)) throw new Error(`channel id "${channel.id}" is used twice; ids must be unique`);
    channels.set(channel.id, channel);
  };
  const chat = { organisationName: config.organisation.name, colours: config.organisation.colours };
  for (const hook of config.webhooks) add(new WebhookChannel(hook, hook.secretEnv ? env[hook.secretEnv] : undefined, chat));
  for (const account of config.social) {
    const factory = SOCIAL_FACTORIES[account.provider];
    if (!factory) throw new Error(`social.${account.id}: provider "${account.provider}" is not available in this build`);
    add(factory(account, env));
  }
  return channels;
}
