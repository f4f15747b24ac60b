import type { Context } from '../context.js';
import type { Config } from '../config/schema.js';
import type { Messenger } from './messenger.js';
import type { ProviderRegistry } from './providers.js';
import type { SocialDeps } from './social/tokens.js';
import { WebhookChannel, type SignatureLookup } from './webhook.js';
import { RedisTokenStore } from '../store/social-tokens.js';
import { errors } from '../errors.js';
import { GuardedFetcher } from '../net/guarded-fetch.js';
import { processEnvironment } from '../config/environment.js';

/** Every configured account (webhooks and social), by channel id. Ids are unique across both. */
export async function buildAccounts(
  config: Config,
  providers: ProviderRegistry,
  env: NodeJS.ProcessEnv,
  deps: SocialDeps & { signatures?: SignatureLookup } = {},
): Promise<Map<string, Messenger>> {
  const accounts = new Map<string, Messenger>();
  const add = (messenger: Messenger) => {
    if (messenger.id === 'email' || accounts.has(messenger.id)) throw errors.CONFIG_INVALID(`channel id "${messenger.id}" is used twice; ids must be unique`);
    accounts.set(messenger.id, messenger);
  };
  const chat = { organisationName: config.organisation.name, colours: config.organisation.colours };
  for (const hook of config.webhooks) add(new WebhookChannel(hook, hook.secretEnv ? env[hook.secretEnv] : undefined, chat, deps.signatures));
  for (const account of config.social) {
    const provider = providers.get(account.provider);
    if (!provider) throw errors.CONFIG_INVALID(`social.${account.id}.provider: "${account.provider}" is not one of ${providers.names.join(', ')}`);
    add(await provider.create(account, env, deps));
  }
  return accounts;
}

/**
 * Every configured account, ready to render: refreshed OAuth tokens kept in Redis, and provider
 * settings render() needs (Mastodon's character limit) read. A provider that cannot be reached
 * now keeps its defaults; delivery checks again.
 */
export async function createAccountChannels(ctx: Context, env: NodeJS.ProcessEnv = processEnvironment()): Promise<Map<string, Messenger>> {
  // Lead images are fetched only through the guarded fetcher, set up from the config file alone.
  const deps = {
    tokenStore: new RedisTokenStore(ctx.redis, ctx.keys),
    fetcher: new GuardedFetcher(ctx.config.fetch),
    log: ctx.log,
    // Webhooks carry each version's Ed25519 signature (src/channels/webhook.ts).
    signatures: async (alertId: string, version: number, text: { title?: string; summary?: string; body?: string }) => {
      const stored = await ctx.versions.get(alertId, version);
      const same = (v: typeof stored) => v && v.alert.title === text.title && v.alert.summary === text.summary && v.alert.body === text.body;
      if (same(stored)) return stored?.signature ?? null;
      // Sent a later version's text (a correction, whole, to a receiver that never got the original):
      // attach the signature of the version whose text it is.
      const match = (await ctx.versions.all(alertId)).reverse().find((v) => v.kind !== 'retraction' && same(v));
      return (match ?? stored)?.signature ?? null;
    },
  };
  const accounts = await buildAccounts(ctx.config, ctx.providers, env, deps);
  await Promise.all(
    [...accounts.values()].map((channel) =>
      channel.prepare
        ? channel.prepare().catch((err: Error) => ctx.log.warn({ channel: channel.id, err: err.message }, 'could not read provider settings; using defaults'))
        : Promise.resolve(),
    ),
  );
  return accounts;
}
