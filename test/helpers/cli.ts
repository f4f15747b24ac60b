import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Config } from '../../src/config/schema.js';
import { killTree, spawnTracked } from './leftovers.js';

const BIN = new URL('../../bin/tocsin.js', import.meta.url).pathname;

/** Writes the test config as a YAML file (secrets stay in the environment) and returns the env for a child. */
export function cliEnv(config: Config, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), 'tocsin-cli-'));
  const { secrets, ...rest } = config;
  const file = join(dir, 'tocsin.yaml');
  writeFileSync(file, stringify(rest));
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TOCSIN_CONFIG: file,
    TOCSIN_SECRET: secrets.secret ?? '',
    TOCSIN_ADMIN_TOKEN: secrets.adminToken ?? '',
    ...extra,
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv, input?: string, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      killTree(child, 'SIGKILL');
      reject(new Error(`tocsin ${args.join(' ')} did not exit within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(input ?? '');
  });
}

/**
 * Starts a long-running `tocsin` process (worker, api, start) in a process group of its own:
 * stop it with `killTree(child, signal)`; it is killed anyway when the test file's process exits.
 */
export function startCli(args: string[], env: NodeJS.ProcessEnv): ChildProcess & { output: () => string } {
  const child = spawnTracked(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  return Object.assign(child, { output: () => output });
}

export { killTree };

export const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
