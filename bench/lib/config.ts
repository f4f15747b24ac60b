import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';

// One configuration for every process of a run; children get the overrides through the
// environment (BENCH_CONFIG) and build exactly the same Config.

export const BENCH_SECRET = 'bench-secret-bench-secret-bench-secret-0123';
export const BENCH_FROM = 'Tocsin Bench <alerts@bench.example.org>';
export const BENCH_PUBLIC_URL = 'https://alerts.example.org';

export interface Tuning {
  batchSize: number;
  concurrency: number;
  sendConcurrency: number;
  maxConnections: number;
  /** Replicas each ledger claim and outcome waits for (redis.waitReplicas); 0: no WAIT. */
  waitReplicas?: number;
}

/** The variable holding the DKIM key the benchmark makes at start (children inherit it). */
export const BENCH_DKIM_ENV = 'TOCSIN_BENCH_DKIM_RSA';
export const BENCH_DKIM = { domain: 'bench.example.org', selector: 'bench', privateKeyEnv: BENCH_DKIM_ENV };

export function benchOverrides(redisUrl: string, smtpUrl: string, prefix: string, tuning: Tuning, dkim = false): Record<string, unknown> {
  return {
    redis: { url: redisUrl, prefix, ...(tuning.waitReplicas ? { waitReplicas: tuning.waitReplicas } : {}) },
    http: { publicUrl: BENCH_PUBLIC_URL },
    log: { level: 'warn' },
    email: {
      smtpUrl,
      from: BENCH_FROM,
      batchSize: tuning.batchSize,
      // The benchmark alert is an emergency; its batches are the tuning's size too, so the
      // figures stay comparable with earlier runs (the lane's smaller batches are for first-mail time).
      emergencyBatchSize: tuning.batchSize,
      concurrency: tuning.concurrency,
      sendConcurrency: tuning.sendConcurrency,
      pool: { maxConnections: tuning.maxConnections },
      ...(dkim ? { dkim: BENCH_DKIM } : {}),
    },
  };
}

export function benchConfig(overrides: Record<string, unknown>): Config {
  return loadConfig({ path: '/dev/null', env: { TOCSIN_SECRET: BENCH_SECRET, TOCSIN_ADMIN_TOKEN: 'bench-admin-token-0123456789' }, overrides });
}
