import { readFileSync, existsSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { Config } from './schema.js';
import { configSchemaFor } from './providers-schema.js';
import { builtInProviders, type ProviderRegistry } from '../channels/providers.js';
import { errors, formatZodIssues } from '../errors.js';
import { controlCharIssues, namedEnvIssues, type ControlCharIssue } from './control-chars.js';

export const DEFAULT_CONFIG_PATH = 'config/tocsin.yaml';

// Environment names are part of the public contract (README "Configuration").
const ENV_PATHS: Array<[env: string, path: string[], kind: 'string' | 'int' | 'list']> = [
  ['REDIS_URL', ['redis', 'url'], 'string'],
  ['REDIS_CLUSTER_NODES', ['redis', 'cluster', 'nodes'], 'list'],
  ['REDIS_SENTINELS', ['redis', 'sentinel', 'sentinels'], 'list'],
  ['REDIS_SENTINEL_NAME', ['redis', 'sentinel', 'name'], 'string'],
  ['TOCSIN_PREFIX', ['redis', 'prefix'], 'string'],
  ['SMTP_URL', ['email', 'smtpUrl'], 'string'],
  ['MAIL_FROM', ['email', 'from'], 'string'],
  ['PORT', ['http', 'port'], 'int'],
  ['HOST', ['http', 'host'], 'string'],
  ['TOCSIN_PUBLIC_URL', ['http', 'publicUrl'], 'string'],
  ['TOCSIN_ADMIN_TOKEN', ['secrets', 'adminToken'], 'string'],
  ['TOCSIN_SECRET', ['secrets', 'secret'], 'string'],
  ['LOG_LEVEL', ['log', 'level'], 'string'],
];

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
}

export interface LoadOptions {
  path?: string;
  env?: NodeJS.ProcessEnv;
  /** Extra values merged over the file (tests and embedding). */
  overrides?: Record<string, unknown>;
  /** The social providers accounts may name (default: the built-in ones). */
  providers?: ProviderRegistry;
}

export function readConfigFile(path: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw errors.CONFIG_INVALID(`${path}: ${(err as Error).message}`);
  }
  if (raw == null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw errors.CONFIG_INVALID(`${path}: the top level must be a mapping`);
  if ('secrets' in raw) {
    throw errors.CONFIG_INVALID(`${path}: secrets: secrets come from the environment (TOCSIN_SECRET, TOCSIN_ADMIN_TOKEN), never from a file`);
  }
  return raw as Record<string, unknown>;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? deepMerge(prev as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

/** Reads the file (TOCSIN_CONFIG or config/tocsin.yaml if present), applies the environment, validates. */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const path = options.path ?? env.TOCSIN_CONFIG ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
  if (env.TOCSIN_CONFIG && !existsSync(env.TOCSIN_CONFIG)) throw errors.CONFIG_INVALID(`TOCSIN_CONFIG: no file at ${env.TOCSIN_CONFIG}`);
  let raw: Record<string, unknown> = path ? readConfigFile(path) : {};
  if (options.overrides) raw = deepMerge(raw, options.overrides);
  const fromEnv = new Map<string, string>();
  for (const [name, path_, kind] of ENV_PATHS) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    const list = () =>
      value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);
    setPath(raw, path_, kind === 'list' ? list() : kind === 'int' && /^\d+$/.test(value) ? Number(value) : value);
    fromEnv.set(path_.join('.'), name);
  }
  const refuse = (issues: ControlCharIssue[]) => {
    if (issues.length)
      throw errors.CONFIG_INVALID(issues.map((i) => `${i.path}${fromEnv.has(i.path) ? ` (from ${fromEnv.get(i.path)})` : ''}: ${i.message}`).join('; '));
  };
  // Before the schema: some validators (URLs) would quietly drop a line break instead of refusing it.
  refuse(controlCharIssues(raw));
  const parsed = configSchemaFor(options.providers ?? builtInProviders).safeParse(raw);
  if (!parsed.success) throw errors.CONFIG_INVALID(formatZodIssues(parsed.error.issues, path ?? 'config'));
  refuse(namedEnvIssues(parsed.data, env));
  return parsed.data;
}
