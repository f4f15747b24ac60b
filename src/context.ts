import type { Redis } from 'ioredis';
import type { Config } from './config/schema.js';
import { bullConnection, connectRedis, redisTarget, waitReplicasFor } from './store/redis.js';
import { redisKeys, type Keys } from './store/keys.js';
import { AlertStore } from './store/alerts.js';
import { SubscriberStore } from './store/subscribers.js';
import { Ledger } from './store/ledger.js';
import { Publications } from './store/publications.js';
import { Queues } from './queue/queues.js';
import { createLogger, type Logger } from './log.js';
import { loadSecret } from './store/secrets.js';
import { resolveAdminToken } from './store/admin-token.js';
import { HealthStore } from './store/health.js';
import { AuditLog } from './store/audit.js';
import { ActivityLog } from './store/activity.js';
import { HaltStore } from './store/halts.js';
import { builtInProviders, type ProviderRegistry } from './channels/providers.js';
import { VersionStore, type VersionSigner } from './store/versions.js';
import { loadSigning, type SigningState } from './signing/key-ring.js';
import { signingSecrets } from './config/signing-env.js';
import { errors } from './errors.js';

/** Everything a process needs to talk to Tocsin's state, built once at start. */
export interface Context {
  config: Config;
  redis: Redis;
  keys: Keys;
  alerts: AlertStore;
  /** The public record: each published version of each alert, and the public index. */
  versions: VersionStore;
  subscribers: SubscriberStore;
  ledger: Ledger;
  publications: Publications;
  queues: Queues;
  log: Logger;
  /** Signs tokens: TOCSIN_SECRET, or one generated once and kept in Redis. */
  secret: string;
  health: HealthStore;
  /** Who did what to each alert, from the API, the CLI and the console alike. */
  audit: AuditLog;
  /** Lifecycle events (published, subscribed, bounced...) for the status notifier. */
  activity: ActivityLog;
  /** Alerts stopped while going out (src/publish/halt.ts). */
  halts: HaltStore;
  /** The social providers this process knows (src/channels/providers.ts). */
  providers: ProviderRegistry;
  /** Keys that sign each published version and CAP message (README "Signatures and verification"). */
  signing: SigningState;
  /** True when TOCSIN_SECRET was not set and a secret was generated into Redis. */
  secretGenerated: boolean;
  /** True when TOCSIN_ADMIN_TOKEN was not set and a token was generated into Redis. */
  adminTokenGenerated: boolean;
  close(): Promise<void>;
}

export async function createContext(
  config: Config,
  options: { log?: Logger; providers?: ProviderRegistry; /** Where signing keys are read (default: the process environment). */ env?: NodeJS.ProcessEnv } = {},
): Promise<Context> {
  const log = options.log ?? createLogger(config.log.level);
  const target = redisTarget(config.redis);
  const redis = await connectRedis(target);
  const keys = redisKeys(config.redis.prefix, { cluster: target.kind === 'cluster' });
  const bull = bullConnection(target);
  const queues = new Queues(bull.connection, keys, config);
  const { secret, generated: secretGenerated } = await loadSecret(redis, keys, config);
  const admin = await resolveAdminToken(redis, keys, config.secrets.adminToken);
  config = { ...config, secrets: { ...config.secrets, adminToken: admin.token } };
  const alerts = new AlertStore(redis, keys);
  const ledger = new Ledger(redis, keys, config.events.maxPerAlert, {
    replicas: waitReplicasFor(config.redis),
    timeoutMs: config.redis.waitTimeoutMs,
    onShort: (acked) =>
      log.warn(
        { acked, wanted: waitReplicasFor(config.redis) },
        'a replica did not confirm ledger writes in time (WAIT); sending goes on, and a failover now could lose them',
      ),
  });
  const signing = await loadSigning(redis, keys, config, signingSecrets(config, options.env)).catch((err: Error) => {
    redis.disconnect();
    void queues.close().then(() => bull.owned.forEach((owned) => owned.disconnect()));
    throw errors.CONFIG_INVALID(err.message);
  });
  return {
    config,
    redis,
    keys,
    alerts,
    versions: new VersionStore(redis, keys, versionSigner(signing)),
    signing,
    subscribers: new SubscriberStore(redis, keys),
    ledger,
    publications: new Publications(redis, keys, config.events.maxActivity),
    queues,
    log,
    secret,
    health: new HealthStore(redis, keys),
    audit: new AuditLog(redis, keys),
    activity: new ActivityLog(redis, keys, config.events.maxActivity),
    halts: new HaltStore(redis, keys),
    providers: options.providers ?? builtInProviders,
    adminTokenGenerated: admin.generated,
    secretGenerated,
    async close() {
      await queues.close();
      for (const owned of bull.owned) owned.disconnect();
      redis.disconnect();
    },
  };
}

/** Signing on and a key: sign. On and no key: refuse to publish (the process should not have started). Off: unsigned. */
function versionSigner(signing: SigningState): VersionSigner | undefined {
  if (signing.signer) {
    const signer = signing.signer;
    return (version) => signer.signVersion(version);
  }
  if (!signing.enabled) return undefined;
  return () => {
    throw errors.SIGNING_KEY_MISSING(signing.problem ?? 'no signing key');
  };
}
