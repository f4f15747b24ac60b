import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

// No test may leave a process behind. Every process a test starts runs in a process group of its
// own (detached), so the whole tree can be signalled at once, and is killed with its group when
// the test file's process exits, whatever happened to the test. Each also carries a marker in its
// environment; as a global setup entry this file marks the run, and its teardown looks through
// /proc for any process still carrying the marker, kills it, and fails the run naming it.

export const RUN_MARKER = 'TOCSIN_TEST_RUN';

const started = new Set<ChildProcess>();
let exitHookInstalled = false;

/** The environment a test child gets: the given one, plus the run's marker. */
export function markedEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const marker = process.env[RUN_MARKER];
  return marker ? { ...env, [RUN_MARKER]: marker } : { ...env };
}

/** Sends a signal to the child's whole process group. */
export function killTree(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

/** spawn(), in a process group of its own, marked, and killed with its group if still running when this process exits. */
export function spawnTracked(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { ...options, env: markedEnv(options.env ?? process.env), detached: true });
  started.add(child);
  child.once('exit', () => started.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of started) killTree(c, 'SIGKILL');
    });
  }
  return child;
}

/** Kills every process this test file started that is still running (for afterAll). */
export function killAllStarted(): void {
  for (const child of started) killTree(child, 'SIGKILL');
}

interface Leftover {
  pid: number;
  command: string;
}

/** Processes (other than this one) whose environment carries this run's marker. */
export function markedProcesses(marker: string): Leftover[] {
  const needle = `${RUN_MARKER}=${marker}`;
  const found: Leftover[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (!environ.includes(needle)) continue;
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      // A zombie has exited already; its parent just has not collected it.
      if (/^State:\s+Z/m.test(status)) continue;
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      // Vitest's own test workers are closed by Vitest after the global teardown.
      const parent = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
      if (parent === process.pid && /vitest/.test(command)) continue;
      found.push({ pid: Number(entry), command: command.slice(0, 200) });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/** Vitest globalSetup: marks the run in the environment every test process inherits. */
export function setup(): void {
  process.env[RUN_MARKER] ??= randomBytes(8).toString('hex');
}

/**
 * Vitest globalTeardown: waits a little for marked processes to finish exiting (the test files'
 * own processes, and children that were just signalled), then kills what is left and fails.
 */
export async function teardown(): Promise<void> {
  const marker = process.env[RUN_MARKER];
  if (!marker) return;
  let left = markedProcesses(marker);
  for (let i = 0; i < 50 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = markedProcesses(marker);
  }
  if (left.length === 0) return;
  // Vitest reports a teardown error but does not change the exit code for it: fail the run here.
  process.exitCode = 1;
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  throw new Error(
    `the test run left ${left.length} process(es) running (killed now): ${left.map((p) => `${p.pid} ${p.command}`).join('; ')}. A test that starts a process must kill its process tree (test/helpers/leftovers.ts).`,
  );
}
