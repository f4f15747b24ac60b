import { readdirSync, readFileSync } from 'node:fs';

// Every process a test starts carries TOCSIN_TEST_RUN=<this run's id> in its environment, and
// its children inherit it. The global teardown (test/helpers/global-processes.ts) finds any still
// alive by reading /proc, so a worker a test forgot, or one that ignores SIGTERM, fails the run.

export const TEST_RUN_VAR = 'TOCSIN_TEST_RUN';

export interface LiveProcess {
  pid: number;
  ppid: number;
  command: string;
}

function readProc(pid: number): { environ: string; stat: string; cmdline: string } | undefined {
  try {
    return {
      environ: readFileSync(`/proc/${pid}/environ`, 'latin1'),
      stat: readFileSync(`/proc/${pid}/stat`, 'latin1'),
      cmdline: readFileSync(`/proc/${pid}/cmdline`, 'latin1'),
    };
  } catch {
    return undefined; // gone meanwhile, or not ours to read
  }
}

function describe(pid: number, info: { stat: string; cmdline: string }): LiveProcess {
  // The command name in stat is in parentheses and may hold spaces; the parent pid follows the state.
  const afterName = info.stat.slice(info.stat.lastIndexOf(')') + 2).split(' ');
  return { pid, ppid: Number(afterName[1]), command: info.cmdline.split('\0').filter(Boolean).join(' ') };
}

const allPids = (): number[] =>
  readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);

/** Live processes (not zombies) whose environment carries this test run's marker. */
export function processesOfRun(runId: string): LiveProcess[] {
  const marker = `\0${TEST_RUN_VAR}=${runId}\0`;
  const found: LiveProcess[] = [];
  for (const pid of allPids()) {
    const info = readProc(pid);
    if (!info || !`\0${info.environ}`.includes(marker)) continue;
    const state = info.stat.slice(info.stat.lastIndexOf(')') + 2, info.stat.lastIndexOf(')') + 3);
    if (state !== 'Z') found.push(describe(pid, info));
  }
  return found;
}

/** `pid` and all its descendants that are alive now. */
export function processTree(pid: number): LiveProcess[] {
  const all = allPids()
    .map((p) => {
      const info = readProc(p);
      return info ? describe(p, info) : undefined;
    })
    .filter((p): p is LiveProcess => p !== undefined);
  const tree = all.filter((p) => p.pid === pid);
  for (let i = 0; i < tree.length; i++) tree.push(...all.filter((p) => p.ppid === tree[i].pid));
  return tree;
}
