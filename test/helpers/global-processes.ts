import { randomUUID } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { processesOfRun, type LiveProcess } from './processes.js';

// Fails the run if a process a test started is still alive at the end: a test that forgot to
// stop its `tocsin worker`, or a process that did not stop when told. They are killed first, so
// nothing outlives the run either way. (Vitest logs an error thrown here but keeps exit code 0,
// hence process.exitCode.)

let runId: string | undefined;

export function setup(project: TestProject): void {
  runId = randomUUID();
  project.provide('testRunId', runId);
}

export async function teardown(): Promise<void> {
  if (!runId) return;
  let left: LiveProcess[] = processesOfRun(runId);
  // A test may have just sent SIGTERM to a process that is finishing its last job.
  for (let waited = 0; left.length > 0 && waited < 5000; waited += 100) {
    await new Promise((r) => setTimeout(r, 100));
    left = processesOfRun(runId);
  }
  if (left.length === 0) return;
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  process.exitCode = 1;
  throw new Error(
    `${left.length} process(es) started by the tests were still running 5 s after the last test (now killed):\n` +
      left.map((p) => `  pid ${p.pid}: ${p.command}`).join('\n'),
  );
}

declare module 'vitest' {
  export interface ProvidedContext {
    testRunId: string;
  }
}
