import { z } from 'zod';

// One schema for the whole configuration. Defaults live here and nowhere else.

const retrySchema = z
  .object({
    // First retry after baseDelayMs, doubling up to maxDelayMs, for maxAttempts attempts.
    // The defaults keep a transient outage retried for about 10 hours, not minutes.
    baseDelayMs: z.number().int().positive().default(30_000),
    maxDelayMs: z.number().int().positive().default(15 * 60_000),
    maxAttempts: z.number().int().min(1).max(1000).default(45),
  })
  .prefault({});

const webhookSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'use lowercase letters, digits and dashes'),
  url: z.url({ protocol: /^https?$/ }),
  // Name of the environment variable holding the signing secret; secrets never live in files.
  secretEnv: z.string().regex(/^[A-Z][A-Z0-9_]*$/).optional(),
  format: z.enum(['json', 'slack', 'discord']).default('json'),
  timeoutMs: z.number().int().positive().default(10_000),
});

const socialAccountSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'use lowercase letters, digits and dashes'),
    provider: z.enum(['x', 'mastodon', 'bluesky', 'facebook', 'telegram']),
    // Base URL of the provider's API; tests point this at a local fake.
    baseUrl: z.url().optional(),
    // Environment variable names for this account's credentials, by credential name.
    credentialsEnv: z.record(z.string(), z.string().regex(/^[A-Z][A-Z0-9_]*$/)).default({}),
    options: z.record(z.string(), z.unknown()).default({}),
    concurrency: z.number().int().min(1).max(10).default(1),
  })
  .loose();

export const configSchema = z.object({
  redis: z
    .object({
      url: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').default('redis://127.0.0.1:6379'),
      prefix: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "." and "-" only').default('tocsin'),
    })
    .prefault({}),
  http: z
    .object({
      port: z.number().int().min(0).max(65535).default(8080),
      host: z.string().default('127.0.0.1'),
      publicUrl: z.url({ protocol: /^https?$/ }).default('http://localhost:8080'),
      bodyLimitBytes: z.number().int().positive().default(1_048_576),
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
          primary: z.string().regex(/^#[0-9a-fA-F]{6}$/).default('#1d3557'),
          watch: z.string().regex(/^#[0-9a-fA-F]{6}$/).default('#b08900'),
          warning: z.string().regex(/^#[0-9a-fA-F]{6}$/).default('#c2410c'),
          emergency: z.string().regex(/^#[0-9a-fA-F]{6}$/).default('#b91c1c'),
        })
        .prefault({}),
    })
    .prefault({}),
  email: z
    .object({
      enabled: z.boolean().default(true),
      smtpUrl: z.string().regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://').default('smtp://127.0.0.1:1025'),
      from: z.string().min(3).default('Tocsin Alerts <alerts@localhost>'),
      pool: z
        .object({
          maxConnections: z.number().int().min(1).max(100).default(5),
          // nodemailer closes a pooled connection after this many messages; large keeps it warm.
          maxMessages: z.number().int().min(1).default(10_000),
        })
        .prefault({}),
      batchSize: z.number().int().min(1).max(5000).default(500),
      // Batch jobs processed at once by one worker process.
      concurrency: z.number().int().min(1).max(50).default(2),
      // Messages in flight at once inside one batch.
      sendConcurrency: z.number().int().min(1).max(200).default(10),
      retry: retrySchema,
    })
    .prefault({}),
  webhooks: z.array(webhookSchema).default([]),
  social: z.array(socialAccountSchema).default([]),
  retry: retrySchema,
  workers: z
    .object({
      // A job whose worker stopped renewing its lock is taken over after this long.
      lockDurationMs: z.number().int().min(1000).default(30_000),
      stalledIntervalMs: z.number().int().min(1000).default(30_000),
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
export type SocialAccountConfig = z.infer<typeof socialAccountSchema>;
export type RetryConfig = z.infer<typeof retrySchema>;
