import { z } from 'zod';
import { parseAddressRange } from '../net/address-policy.js';

// One schema for the whole configuration. Defaults live here and nowhere else.

const retrySchema = z
  .object({
    // First retry after baseDelayMs, doubling up to maxDelayMs, for maxAttempts attempts.
    // The defaults keep a transient outage retried for about 10 hours, not minutes.
    baseDelayMs: z.number().int().positive().default(30_000),
    maxDelayMs: z
      .number()
      .int()
      .positive()
      .default(15 * 60_000),
    maxAttempts: z.number().int().min(1).max(1000).default(45),
  })
  .prefault({});

const webhookSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'use lowercase letters, digits and dashes'),
  url: z.url({ protocol: /^https?$/ }),
  // Name of the environment variable holding the signing secret; secrets never live in files.
  secretEnv: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]*$/)
    .optional(),
  format: z.enum(['json', 'slack', 'discord']).default('json'),
  timeoutMs: z.number().int().positive().default(10_000),
});

/**
 * A social account. `providers` are the registry's names (src/channels/providers.ts); the
 * loader checks them (src/config/providers-schema.ts), so this file needs no adapter.
 */
export const socialAccountSchemaFor = (providers?: readonly string[]) =>
  z
    .object({
      id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'use lowercase letters, digits and dashes'),
      provider: providers
        ? z.string().refine((p) => providers.includes(p), { error: `must be one of ${providers.join(', ')}` })
        : z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be a provider name such as mastodon'),
      // Base URL of the provider's API; tests point this at a local fake.
      baseUrl: z.url().optional(),
      // Environment variable names for this account's credentials, by credential name.
      credentialsEnv: z.record(z.string(), z.string().regex(/^[A-Z][A-Z0-9_]*$/)).default({}),
      options: z.record(z.string(), z.unknown()).default({}),
      concurrency: z.number().int().min(1).max(10).default(1),
    })
    .loose();

// Status webhooks: tell staff (Slack, a ticketing hook...) when an alert finishes publishing
// or a channel starts failing. Signed like the alert webhooks.
export const NOTIFY_EVENTS = ['alert.published', 'channel.failing'] as const;

const notifyTargetSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }).optional(),
    // A Slack webhook URL is itself a secret: give the name of the variable that holds it instead.
    urlEnv: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]*$/, 'must be an environment variable name such as TOCSIN_SLACK_STATUS_URL')
      .optional(),
    // Name of the environment variable holding the signing secret; secrets never live in files.
    secretEnv: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]*$/, 'must be an environment variable name such as TOCSIN_NOTIFY_SECRET')
      .optional(),
    events: z
      .array(z.enum(NOTIFY_EVENTS))
      .min(1, `choose at least one of ${NOTIFY_EVENTS.join(', ')}`)
      .default([...NOTIFY_EVENTS]),
    format: z.enum(['json', 'slack']).default('json'),
    timeoutMs: z.number().int().positive().default(10_000),
  })
  .refine((t) => (t.url === undefined) !== (t.urlEnv === undefined), { message: 'give either url or urlEnv (one of the two)', path: ['url'] });

// Console login tokens: which environment variable holds a token for which role. `name` fixes
// the actor recorded for that token (one token per person makes "who approved" provable).
export const CONSOLE_ROLES = ['viewer', 'editor', 'publisher'] as const;
const consoleTokenSchema = z.object({
  env: z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be an environment variable name like TOCSIN_EDITOR_TOKEN'),
  role: z.enum(CONSOLE_ROLES, { error: `must be one of ${CONSOLE_ROLES.join(', ')}` }),
  name: z.string().trim().min(1).max(60).optional(),
});

const consoleSchema = z
  .object({
    tokens: z.array(consoleTokenSchema).default([
      { env: 'TOCSIN_VIEWER_TOKEN', role: 'viewer' },
      { env: 'TOCSIN_EDITOR_TOKEN', role: 'editor' },
      { env: 'TOCSIN_PUBLISHER_TOKEN', role: 'publisher' },
    ]),
    // A session ends after this long without a request.
    sessionIdleMinutes: z
      .number()
      .int()
      .min(5)
      .max(7 * 24 * 60)
      .default(8 * 60),
    // The health page warns once an account has failed this many deliveries in a row.
    failureWarningThreshold: z.number().int().min(1).max(1000).default(3),
    // Images and attachments uploaded in the compose form; served publicly under /media.
    uploadsDir: z.string().min(1).default('data/uploads'),
    maxUploadBytes: z
      .number()
      .int()
      .min(1024)
      .max(100 * 1024 * 1024)
      .default(10 * 1024 * 1024),
    // Live progress streams (SSE) one server process serves: per session (a few tabs) and in all.
    liveStreams: z
      .object({
        perSession: z.number().int().min(1).max(10_000).default(10),
        total: z.number().int().min(1).max(100_000).default(1000),
      })
      .prefault({}),
  })
  .prefault({});

const envName = z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be an environment variable name like BOUNCES_SECRET');

const dkimSelector = z
  .string()
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, 'must be a DNS label such as tocsin2026');

// DKIM: every email is signed (RSA, and optionally Ed25519 too). Keys come from the environment
// variables named here; `tocsin dkim check` prints the DNS records to publish.
const dkimSchema = z.object({
  domain: z
    .string()
    .regex(
      /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/,
      'must be a domain name such as example.org (the d= of the signature)',
    ),
  selector: dkimSelector,
  privateKeyEnv: envName.default('TOCSIN_DKIM_PRIVATE_KEY'),
  ed25519: z.object({ selector: dkimSelector, privateKeyEnv: envName.default('TOCSIN_DKIM_ED25519_PRIVATE_KEY') }).optional(),
});

const rateLimitSchema = z.object({
  max: z.number().int().min(1),
  windowS: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600),
});

const bounceActionSchema = (count: number) =>
  z
    .object({
      // Suppress the address once this many events of the kind have been recorded for it.
      count: z.number().int().min(1).max(1000).default(count),
      action: z.enum(['suppress', 'none']).default('suppress'),
    })
    .prefault({});

const subscriptionsSchema = z
  .object({
    // Recorded with each consent; change it whenever the wording of the form changes.
    formVersion: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,40}$/, 'letters, digits, ".", "_" and "-" only')
      .default('1'),
    // Languages offered on the forms. Only list a language once templates/email has its templates.
    languages: z
      .array(z.string().regex(/^[a-z]{2,3}(?:-[A-Z]{2})?$/, 'must be a language tag like en or fr-CA'))
      .min(1)
      .default(['en']),
    // At most one confirmation mail per address per window, so the form cannot mail-bomb anyone.
    confirmationWindowS: z
      .number()
      .int()
      .min(60)
      .max(7 * 24 * 3600)
      .default(3600),
    // Unconfirmed subscriptions (and their confirm links) are deleted after this long.
    pendingExpiryS: z
      .number()
      .int()
      .min(600)
      .max(30 * 24 * 3600)
      .default(3 * 24 * 3600),
    rateLimits: z
      .object({
        perIp: rateLimitSchema.default({ max: 20, windowS: 3600 }),
        perAddress: rateLimitSchema.default({ max: 5, windowS: 3600 }),
      })
      .prefault({}),
    // Defaults as listmonk's: one hard bounce or one complaint suppresses; soft bounces after 3.
    bouncePolicy: z.object({ hard: bounceActionSchema(1), soft: bounceActionSchema(3), complaint: bounceActionSchema(1) }).prefault({}),
    // Subscription requests waiting in memory to be processed; beyond this, new ones are dropped.
    maxBacklog: z.number().int().min(10).max(100_000).default(1000),
  })
  .prefault({});

const bouncesSchema = z
  .object({
    ses: z
      .object({
        // SNS topics allowed to report bounces. Empty disables the endpoint: anyone can create
        // an SNS topic, so a valid AWS signature alone proves nothing about whose topic it is.
        topicArns: z.array(z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$/, 'must be an SNS topic ARN')).default([]),
        // Signing certificates and subscription confirmations are fetched only from these hosts.
        // Tests point this at 127.0.0.1 with requireHttps false; never do that in production.
        certHostPattern: z
          .string()
          .refine((s) => {
            try {
              new RegExp(s);
              return s.startsWith('^') && s.endsWith('$');
            } catch {
              return false;
            }
          }, 'must be a regular expression anchored with ^ and $')
          .default('^sns\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?$'),
        requireHttps: z.boolean().default(true),
        // Confirm the SNS subscription automatically when the topic is allowed.
        autoConfirm: z.boolean().default(true),
        maxAgeS: z
          .number()
          .int()
          .min(60)
          .default(24 * 3600),
      })
      .prefault({}),
    postmark: z
      .object({
        // Postmark does not sign webhooks: put basic-auth credentials in the webhook URL
        // (env value "user:password") and/or send a secret header.
        basicAuthEnv: envName.optional(),
        headerSecretEnv: envName.optional(),
        header: z
          .string()
          .regex(/^[A-Za-z0-9-]{1,64}$/)
          .default('x-tocsin-webhook-secret'),
      })
      .prefault({}),
    mailgun: z
      .object({
        // Mailgun's "HTTP webhook signing key".
        signingKeyEnv: envName.optional(),
        maxAgeS: z
          .number()
          .int()
          .min(60)
          .default(15 * 60),
      })
      .prefault({}),
  })
  .prefault({});

// URLs taken from alerts (the lead image, attachments) are fetched only through the guarded
// fetcher (src/net/guarded-fetch.ts), which refuses internal addresses.
const fetchSchema = z
  .object({
    // Loopback, RFC 1918, CGNAT or unique-local ranges the fetcher may reach anyway, as CIDRs
    // ("127.0.0.1/32"). For tests and closed networks only: every range opened here can be reached
    // by anyone who can put a URL in an alert. Link-local and cloud metadata addresses stay refused.
    allowPrivateAddresses: z
      .array(
        z.string().superRefine((value, ctx) => {
          try {
            parseAddressRange(value);
          } catch (err) {
            ctx.addIssue({ code: 'custom', message: (err as Error).message });
          }
        }),
      )
      .default([]),
    maxRedirects: z.number().int().min(0).max(10).default(3),
    // A connection silent this long (connecting, or between two pieces of the body) is dropped.
    idleTimeoutMs: z.number().int().min(100).max(300_000).default(10_000),
  })
  .strict()
  .prefault({});

// The public record: alert pages, archive, country pages, feeds and CAP (README "The public record").
const CAP_URGENCY = ['Immediate', 'Expected', 'Future', 'Past', 'Unknown'] as const;
const CAP_SEVERITY = ['Extreme', 'Severe', 'Moderate', 'Minor', 'Unknown'] as const;
const CAP_CERTAINTY = ['Observed', 'Likely', 'Possible', 'Unlikely', 'Unknown'] as const;

const capLevelSchema = (
  event: string,
  urgency: (typeof CAP_URGENCY)[number],
  severity: (typeof CAP_SEVERITY)[number],
  certainty: (typeof CAP_CERTAINTY)[number],
) =>
  z
    .object({
      event: z.string().trim().min(1).max(200).default(event),
      urgency: z.enum(CAP_URGENCY, { error: `must be one of ${CAP_URGENCY.join(', ')}` }).default(urgency),
      severity: z.enum(CAP_SEVERITY, { error: `must be one of ${CAP_SEVERITY.join(', ')}` }).default(severity),
      certainty: z.enum(CAP_CERTAINTY, { error: `must be one of ${CAP_CERTAINTY.join(', ')}` }).default(certainty),
    })
    .prefault({});

const linkSchema = z.object({
  name: z.string().trim().min(1).max(60),
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
});

const publicSchema = z
  .object({
    site: z
      .object({
        // false: no HTML pages (the organisation publishes on its own website); feeds, CAP,
        // sitemap and robots.txt are still served.
        enabled: z.boolean().default(true),
      })
      .prefault({}),
    // "Follow us" links on every page, e.g. { name: Mastodon, url: https://... }.
    follow: z.array(linkSchema).max(20).default([]),
    // The organisation's own report on a country, by ISO code: shown on country and alert pages.
    countryReports: z
      .record(z.string().regex(/^[A-Z]{2}$/, 'keys are ISO 3166-1 alpha-2 codes such as KZ'), z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }))
      .default({}),
    // Cache-Control max-age (seconds) of pages and feeds; they also answer ETag and Last-Modified.
    maxAgeS: z.number().int().min(0).max(86_400).default(60),
    // Alerts per archive page, on the home page, and per feed.
    pageSize: z.number().int().min(5).max(200).default(20),
    homeCount: z.number().int().min(1).max(50).default(10),
    feedSize: z.number().int().min(1).max(500).default(50),
    // Rendered pages and feeds kept in memory per process.
    cacheEntries: z.number().int().min(10).max(100_000).default(2000),
    cap: z
      .object({
        // CAP <sender>: globally unique, usually a domain or address. Unset: the host of http.publicUrl.
        sender: z
          .string()
          .regex(/^[^\s,<&]+$/, 'no spaces, commas, < or &, as CAP requires')
          .max(200)
          .optional(),
        // Put before "<alert id>-<version>" to make each CAP <identifier>.
        identifierPrefix: z
          .string()
          .regex(/^[^\s,<&]*$/, 'no spaces, commas, < or &, as CAP requires')
          .max(100)
          .default(''),
        // <info> fields by alert level; `report` is for alerts without a level.
        levels: z
          .object({
            watch: capLevelSchema('Genocide Watch', 'Future', 'Moderate', 'Possible'),
            warning: capLevelSchema('Genocide Warning', 'Expected', 'Severe', 'Likely'),
            emergency: capLevelSchema('Genocide Emergency', 'Immediate', 'Extreme', 'Observed'),
            report: capLevelSchema('Atrocity Risk Report', 'Unknown', 'Unknown', 'Unknown'),
          })
          .prefault({}),
      })
      .prefault({}),
  })
  .prefault({});

/** `host:port`, as REDIS_CLUSTER_NODES and REDIS_SENTINELS list them. */
const hostPortSchema = z.string().regex(/^[A-Za-z0-9_.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/, 'must be host:port');

export const configSchema = z.object({
  redis: z
    .object({
      url: z
        .string()
        .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
        .default('redis://127.0.0.1:6379'),
      prefix: z
        .string()
        .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "." and "-" only')
        .default('tocsin'),
      // Redis Cluster: seed nodes (host:port). Set, it replaces redis.url's host; the URL's
      // password and TLS (rediss://) still apply. Keys get hash tags (README "Redis Cluster and Sentinel").
      cluster: z
        .object({ nodes: z.array(hostPortSchema).min(1, 'at least one host:port') })
        .strict()
        .optional(),
      // Redis Sentinel: the sentinels (host:port) and the name of the primary they watch.
      sentinel: z
        .object({ sentinels: z.array(hostPortSchema).min(1, 'at least one host:port'), name: z.string().min(1).default('mymaster') })
        .strict()
        .optional(),
      // After a ledger claim or outcome write, WAIT for this many replicas to have it (a failover
      // then cannot lose it). Unset: 1 with redis.sentinel, 0 (no WAIT) otherwise. Not on a cluster.
      waitReplicas: z.number().int().min(0).max(16).optional(),
      // How long one WAIT may hold the write's caller; past it the send goes on (and is logged).
      waitTimeoutMs: z.number().int().min(1).max(60_000).default(500),
    })
    .refine((r) => !(r.cluster && r.sentinel), { message: 'set redis.cluster or redis.sentinel, not both' })
    .prefault({}),
  http: z
    .object({
      port: z.number().int().min(0).max(65535).default(8080),
      host: z.string().default('127.0.0.1'),
      publicUrl: z.url({ protocol: /^https?$/ }).default('http://localhost:8080'),
      bodyLimitBytes: z.number().int().positive().default(1_048_576),
      // false (default): the client address is the TCP peer. Behind a reverse proxy, give the
      // number of proxy hops or the proxies' addresses/CIDRs, as Fastify's trustProxy takes them.
      trustProxy: z.union([z.boolean(), z.number().int().min(0).max(10), z.string(), z.array(z.string())]).default(false),
    })
    .prefault({}),
  organisation: z
    .object({
      name: z.string().min(1).default('Tocsin'),
      website: z.url().optional(),
      postalAddress: z.string().default(''),
      logoUrl: z.url().optional(),
      colours: z
        .object({
          primary: z
            .string()
            .regex(/^#[0-9a-fA-F]{6}$/)
            .default('#1d3557'),
          watch: z
            .string()
            .regex(/^#[0-9a-fA-F]{6}$/)
            .default('#b08900'),
          warning: z
            .string()
            .regex(/^#[0-9a-fA-F]{6}$/)
            .default('#c2410c'),
          emergency: z
            .string()
            .regex(/^#[0-9a-fA-F]{6}$/)
            .default('#b91c1c'),
        })
        .prefault({}),
    })
    .prefault({}),
  email: z
    .object({
      enabled: z.boolean().default(true),
      // Unset: messages are written as .eml files to outboxDir, so a first run works without a mail server.
      smtpUrl: z
        .string()
        .regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://')
        .optional(),
      outboxDir: z.string().default('var/outbox'),
      from: z.string().min(3).default('Tocsin Alerts <alerts@localhost>'),
      pool: z
        .object({
          maxConnections: z.number().int().min(1).max(100).default(5),
          // A pooled connection is closed and replaced after this many messages; large keeps it warm.
          maxMessages: z.number().int().min(1).default(10_000),
        })
        .prefault({}),
      // `tocsin`: Tocsin's own pipelined SMTP sender (the default). `nodemailer`: nodemailer's SMTP
      // pool, kept as a fallback for a relay the built-in sender does not get along with.
      sender: z.enum(['tocsin', 'nodemailer']).default('tocsin'),
      // Deadlines of the SMTP conversation. Past dataMs after the final dot the outcome is unknown.
      timeouts: z
        .object({
          connectionMs: z.number().int().min(100).default(10_000),
          greetingMs: z.number().int().min(100).default(10_000),
          commandMs: z.number().int().min(100).default(30_000),
          dataMs: z.number().int().min(100).default(60_000),
        })
        .prefault({}),
      dkim: dkimSchema.optional(),
      batchSize: z.number().int().min(1).max(5000).default(500),
      // An emergency alert's batches are smaller, so its first mails go out sooner and its
      // batches spread over every worker process at once.
      emergencyBatchSize: z.number().int().min(1).max(5000).default(50),
      // The fan-out stays at most this many recipients (at least one batch) ahead of the senders
      // (queued or being sent), so that the queue and the worker's memory do not grow with the
      // list, and a 1M-recipient send does not put 2,000 batches in Redis at once.
      fanOutAhead: z.number().int().min(1).max(10_000_000).default(10_000),
      // How often a sending batch looks whether a batch of a higher level is waiting; if so it
      // hands its unsent recipients back and gives way. One cheap Redis call per process per period.
      laneCheckMs: z.number().int().min(10).max(10_000).default(100),
      // Batch jobs processed at once by one worker process.
      concurrency: z.number().int().min(1).max(50).default(2),
      // Messages in flight at once inside one batch.
      sendConcurrency: z.number().int().min(1).max(200).default(10),
      // The worker's own deadline for one message, whatever the SMTP client's timeouts do.
      sendDeadlineMs: z.number().int().min(1000).max(600_000).default(120_000),
      // After this many SMTP timeouts or refused connections in a row, the email queue pauses
      // (pauseMs, doubling up to maxPauseMs) and the health page and status webhooks say so.
      breaker: z
        .object({
          failuresInARow: z.number().int().min(1).max(1000).default(5),
          pauseMs: z.number().int().min(1000).default(30_000),
          maxPauseMs: z
            .number()
            .int()
            .min(1000)
            .default(10 * 60_000),
        })
        .prefault({}),
      retry: retrySchema,
    })
    .prefault({}),
  // 1: a publisher may publish any draft. 2: a second person (not the author) must approve,
  // and the publisher must not be the author.
  approvals: z.union([z.literal(1), z.literal(2)], { error: 'must be 1 or 2' }).default(1),
  console: consoleSchema,
  // Failed sign-ins and wrong bearer tokens (console, admin API, /metrics, Bull Board), counted per
  // client network (IPv6 by /64) and per token prefix; past max, 429 until the window ends.
  authLimits: z
    .object({
      perIp: rateLimitSchema.default({ max: 20, windowS: 900 }),
      perTokenPrefix: rateLimitSchema.default({ max: 20, windowS: 900 }),
      // How many leading characters of a presented token make its prefix bucket.
      prefixChars: z.number().int().min(4).max(32).default(8),
    })
    .prefault({}),
  subscriptions: subscriptionsSchema,
  bounces: bouncesSchema,
  webhooks: z.array(webhookSchema).default([]),
  social: z.array(socialAccountSchemaFor()).default([]),
  fetch: fetchSchema,
  retry: retrySchema,
  workers: z
    .object({
      // A job whose worker stopped renewing its lock is taken over after this long. The worker
      // itself stops sending a quarter of this before its lock can run out (src/delivery/lease.ts).
      lockDurationMs: z.number().int().min(1000).default(30_000),
      stalledIntervalMs: z.number().int().min(1000).default(30_000),
      // Publish jobs (render + fan-out) at once per process.
      publishConcurrency: z.number().int().min(1).max(20).default(2),
      // How often a job whose worker died is taken over before BullMQ gives up on it; the ledger
      // keeps a takeover from sending twice, so this is high.
      maxStalledCount: z.number().int().min(1).default(1000),
      // On SIGTERM, jobs in flight get this long to finish before the process exits anyway.
      drainTimeoutMs: z.number().int().min(1000).default(60_000),
    })
    .prefault({}),
  queues: z
    .object({
      // Finished jobs are kept this long so that re-adding a deterministic job id is recognised.
      keepCompletedS: z
        .number()
        .int()
        .min(60)
        .default(7 * 24 * 3600),
      keepCompletedCount: z.number().int().min(100).default(100_000),
      keepFailedS: z
        .number()
        .int()
        .min(60)
        .default(30 * 24 * 3600),
    })
    .prefault({}),
  events: z
    .object({
      // Delivery events kept per alert (live progress, the console's history), and lifecycle events in all.
      maxPerAlert: z.number().int().min(100).default(20_000),
      maxActivity: z.number().int().min(100).default(10_000),
    })
    .prefault({}),
  metrics: z
    .object({
      // /metrics answers only with `Authorization: Bearer <value of this variable>`; unset = off.
      tokenEnv: z
        .string()
        .regex(/^[A-Z][A-Z0-9_]*$/, 'must be an environment variable name')
        .default('TOCSIN_METRICS_TOKEN'),
      // Per-alert series (deliveries, publish duration) cover this many of the newest alerts.
      recentAlerts: z.number().int().min(0).max(500).default(20),
      // Counting subscribers by status reads every subscriber; scrapes reuse the count this long.
      subscriberCountCacheMs: z.number().int().min(0).default(60_000),
      // Workers add their send-latency samples to Redis this often (and when they stop).
      latencyFlushMs: z.number().int().min(20).default(5_000),
    })
    .prefault({}),
  bullBoard: z
    .object({
      // Removing or re-adding jobs by hand can leave ledger entries queued forever; retry failed
      // deliveries with `tocsin retry` or the console instead. Set false to allow it anyway.
      readOnly: z.boolean().default(true),
    })
    .prefault({}),
  notify: z
    .object({
      // A channel is "failing" once this many deliveries in a row failed.
      failingAfter: z.number().int().min(1).max(1000).default(3),
      // A notification a target did not accept is tried again after this long, up to maxRounds times.
      retryAfterMs: z.number().int().min(100).default(60_000),
      maxRounds: z.number().int().min(1).max(1000).default(30),
      targets: z.array(notifyTargetSchema).default([]),
    })
    .prefault({}),
  public: publicSchema,
  // Signed alerts (README "Signatures and verification"): every published version is signed with
  // Ed25519, CAP messages with an XML Signature (RSA-SHA256). Keys come from the variables named
  // here. With a loopback http.publicUrl and no key, a development key is generated into Redis.
  signing: z
    .object({
      enabled: z.boolean().default(true),
      // PKCS#8 PEM Ed25519 private key (`tocsin keys generate` prints one).
      signingKeyEnv: envName.default('TOCSIN_SIGNING_KEY'),
      // Earlier public keys (PEM, one or more) whose signatures still verify after a rotation.
      retiredSigningKeysEnv: envName.default('TOCSIN_SIGNING_RETIRED_KEYS'),
      // PKCS#8 PEM RSA private key (2048 bits or more) for the CAP messages' XML Signature.
      capSigningKeyEnv: envName.default('TOCSIN_CAP_SIGNING_KEY'),
      // Earlier CAP public keys (PEM), so messages signed before a rotation still verify on /verify.
      retiredCapSigningKeysEnv: envName.default('TOCSIN_CAP_SIGNING_RETIRED_KEYS'),
    })
    .prefault({}),
  log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
  secrets: z
    .object({
      adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
      secret: z.string().min(32, 'must be at least 32 characters').optional(),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type WebhookConfig = z.infer<typeof webhookSchema>;
export type SocialAccountConfig = z.infer<ReturnType<typeof socialAccountSchemaFor>>;
export type RetryConfig = z.infer<typeof retrySchema>;
export type SubscriptionsConfig = z.infer<typeof subscriptionsSchema>;
export type BouncesConfig = z.infer<typeof bouncesSchema>;
export type ConsoleConfig = z.infer<typeof consoleSchema>;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];
export type NotifyTargetConfig = z.infer<typeof notifyTargetSchema>;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

export type FetchConfig = z.infer<typeof fetchSchema>;
export type PublicConfig = z.infer<typeof publicSchema>;
export type SigningConfig = z.infer<typeof configSchema>['signing'];
export type CapLevelConfig = PublicConfig['cap']['levels']['watch'];
