import type { SocialAccountConfig } from '../config/schema.js';
import type { Messenger } from './messenger.js';
import type { SocialDeps } from './social/tokens.js';

// The one list of social providers. The config schema takes its provider names from here, and so
// do the README's provider table, the health page and the tests (test/channels/registry.test.ts).
// Adding a provider: its adapter file (src/channels/social/<name>.ts), its fake (test/fakes/),
// its test (test/social/<name>.test.ts), and one entry below. See README "Adding a channel".

export interface ProviderDefinition {
  readonly name: string;
  /** How staff see it: the health page, `tocsin channels list`. */
  readonly label: string;
  /** Builds one account's messenger. Adapters load lazily: most commands never post. */
  create(account: SocialAccountConfig, env: NodeJS.ProcessEnv, deps: SocialDeps): Promise<Messenger>;
}

export const BUILT_IN_PROVIDERS: readonly ProviderDefinition[] = [
  { name: 'x', label: 'X', create: async (account, env, deps) => new (await import('./social/x.js')).XChannel(account, env, deps) },
  { name: 'mastodon', label: 'Mastodon', create: async (account, env, deps) => new (await import('./social/mastodon.js')).MastodonChannel(account, env, deps) },
  { name: 'bluesky', label: 'Bluesky', create: async (account, env, deps) => new (await import('./social/bluesky.js')).BlueskyChannel(account, env, deps) },
  { name: 'facebook', label: 'Facebook Page', create: async (account, env) => new (await import('./social/facebook.js')).FacebookChannel(account, env) },
  { name: 'telegram', label: 'Telegram channel', create: async (account, env) => new (await import('./social/telegram.js')).TelegramChannel(account, env) },
];

/** An immutable set of providers; `with()` gives a new one (an embedding, or a test's provider). */
export class ProviderRegistry {
  private readonly byName: ReadonlyMap<string, ProviderDefinition>;

  constructor(providers: readonly ProviderDefinition[]) {
    this.byName = new Map(providers.map((p) => [p.name, p]));
    if (this.byName.size !== providers.length) throw new Error('provider names must be unique');
  }

  get names(): string[] {
    return [...this.byName.keys()];
  }

  get(name: string): ProviderDefinition | undefined {
    return this.byName.get(name);
  }

  with(...providers: ProviderDefinition[]): ProviderRegistry {
    return new ProviderRegistry([...this.byName.values(), ...providers]);
  }
}

export const builtInProviders = new ProviderRegistry(BUILT_IN_PROVIDERS);
