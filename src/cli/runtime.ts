import { loadConfig } from '../config/load.js';
import { createContext, type Context } from '../context.js';
import { createLogger } from '../log.js';
import { errors } from '../errors.js';

/** Publishing processes and commands refuse to start when signing is on and no key is set. */
export function requireSigningKey(ctx: Context): void {
  if (ctx.signing.problem) throw errors.SIGNING_KEY_MISSING(ctx.signing.problem);
}

/** Opens a context for one CLI command and always closes it; errors print one clear line. */
export async function withContext<T>(fn: (ctx: Context) => Promise<T>, options: { logLevel?: string; publishes?: boolean } = {}): Promise<T> {
  const config = loadConfig();
  const ctx = await createContext(config, {
    log: createLogger(options.logLevel ?? (config.log.level === 'info' ? 'warn' : config.log.level), { toStderr: true }),
  });
  try {
    // A command that publishes a version refuses before doing anything when it could not sign it.
    if (options.publishes) requireSigningKey(ctx);
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

export function fail(err: unknown): never {
  const e = err as { code?: string; message?: string };
  process.stderr.write(`tocsin: ${e.message ?? String(err)}${e.code ? ` [${e.code}]` : ''}\n`);
  process.exit(e.code === 'TOCSIN_ERR_REDIS_UNREACHABLE' ? 69 : 1);
}

export const print = (line = '') => process.stdout.write(`${line}\n`);
