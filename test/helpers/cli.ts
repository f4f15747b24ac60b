import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, inject } from 'vitest';
import { stringify } from 'yaml';
import type { Config } from '../../src/config/schema.js';
import { TEST_RUN_VAR } from './processes.js';

// The compiled CLI (dist/, built by the suite's global setup), exactly what `npm start` runs.
const BIN = new URL('../../bin/tocsin.js', import.meta.url).pathname;

const running = new Set<ChildProcess>();

/**
 * Starts a command in its own process group, marked as this test run's (see processes.ts). A
 * test stops it with `child.kill(signal)`; whatever a test leaves running (an assertion failed
 * before its `finally`) is killed with its whole group when the test file ends.
 */
export function spawnMarked(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { stdin?: 'pipe' | 'ignore'; cwd?: string; /** false: the caller kills it (a Redis the test's own afterAll still needs). */ track?: boolean } = {},
): ChildProcess {
  const child = spawn(command, args, {
    env: { ...env, [TEST_RUN_VAR]: inject('testRunId') },
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
    cwd: options.cwd,
    detached: true,
  });
  if (options.track === false) return child;
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** Starts `tocsin <args>` (the compiled CLI) with spawnMarked. */
export const spawnTocsin = (args: string[], env: NodeJS.ProcessEnv, options: { stdin?: 'pipe' | 'ignore'; cwd?: string } = {}): ChildProcess =>
  spawnMarked(process.execPath, [BIN, ...args], env, options);

/** Sends `signal` to a process started by spawnMarked and to everything it started. */
export function killTree(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-(child.pid as number), signal);
  } catch {
    /* already gone */
  }
}

/** Kills every process this test file started that is still running (for an afterAll that must not wait). */
export function killAllStarted(): void {
  for (const child of running) killTree(child, 'SIGKILL');
}

afterAll(async () => {
  const left = [...running];
  for (const child of left) killTree(child, 'SIGKILL');
  await Promise.all(left.map(exited));
});

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
    const child = spawnTocsin(args, env, { stdin: 'pipe' });
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

/** Starts a long-running `tocsin` process (worker, api, start); `nodeArgs` go to node itself. */
export function startCli(args: string[], env: NodeJS.ProcessEnv, nodeArgs: string[] = []): ChildProcess & { output: () => string } {
  const child = nodeArgs.length ? spawnMarked(process.execPath, [...nodeArgs, BIN, ...args], env) : spawnTocsin(args, env);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  return Object.assign(child, { output: () => output });
}

export const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
