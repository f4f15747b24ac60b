import { fileURLToPath } from 'node:url';
import type { Context } from '../../src/context.js';
import { testRedisUrl } from '../helpers/context.js';
import { spawnTracked } from '../helpers/leftovers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  /** Everything printed so far (grows while the command runs). */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code when the command ends. */
  exited: Promise<number>;
}

/** Runs `tocsin <args>` as its own process against the test context's Redis and key prefix. */
export function runCli(ctx: Context, args: string[]): CliRun {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  Object.assign(env, {
    REDIS_URL: testRedisUrl(),
    TOCSIN_PREFIX: ctx.config.redis.prefix,
    TOCSIN_SECRET: ctx.secret,
    TOCSIN_ADMIN_TOKEN: ctx.config.secrets.adminToken,
    // No config file from the working directory: only what the test context uses.
    TOCSIN_CONFIG: '/dev/null',
    LOG_LEVEL: 'error',
  });
  const child = spawnTracked(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : -1)));
  });
  return { stdout: () => out, stderr: () => err, exited };
}

/** The row for `name` in `tocsin status`'s table: total, sent, failed, unknown, skipped, queued, sending, retrying. */
export function tableRow(output: string, name: string): Record<string, number> | undefined {
  const line = output
    .split('\n')
    .reverse()
    .find((l) => new RegExp(`^${name}\\s+\\d`).test(l));
  if (!line) return undefined;
  const n = line.trim().split(/\s+/).slice(1).map(Number);
  return { total: n[0], sent: n[1], failed: n[2], unknown: n[3], skipped: n[4], queued: n[5], sending: n[6], retrying: n[7] };
}
