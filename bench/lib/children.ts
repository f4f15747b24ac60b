import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

// Child processes of the benchmark (worker, SMTP sink, baselines), spoken to over IPC, and the
// /proc sampling that gives each one's resident memory.

export type Message = { type: string };

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Forks `bench/<script>` under tsx with an IPC channel; stdout/stderr go to ours. */
export function forkBench(script: string, env: Record<string, string> = {}, execArgv: string[] = []): ChildProcess {
  const path = fileURLToPath(new URL(`../${script}`, import.meta.url));
  return fork(path, [], { execArgv: ['--import', 'tsx', ...execArgv], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/** Resolves with the child's next message of this type; rejects if the child exits first. */
export function nextMessage<T extends Message>(child: ChildProcess, type: string, timeoutMs = 600_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no "${type}" message from child ${child.pid} within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: Message) => {
      if (m?.type === type) done(undefined, m as T);
      else if (m?.type === 'error') done(new Error(`child ${child.pid}: ${String((m as { message?: unknown }).message)}`));
    };
    const onExit = (code: number | null) => done(new Error(`child ${child.pid} exited (${code}) before sending "${type}"`));
    function done(err?: Error, value?: T) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(value as T);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export async function request<T extends Message>(
  child: ChildProcess,
  message: Message & Record<string, unknown>,
  reply: string,
  timeoutMs?: number,
): Promise<T> {
  const answer = nextMessage<T>(child, reply, timeoutMs);
  child.send(message);
  return answer;
}

/** VmRSS and VmHWM (peak) of a process, in bytes, from /proc. */
export function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** CPU time (user + system) a process has used so far, in seconds, from /proc. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted after "pid (comm) ".
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Polls a process's RSS until stopped; keeps the highest value and the peak of each tenth of the run. */
export function sampleRss(pid: number, everyMs = 100) {
  const samples: Array<[ms: number, rss: number]> = [];
  const t0 = performance.now();
  const take = () => {
    try {
      samples.push([performance.now() - t0, memoryOf(pid).rss]);
    } catch {
      /* the process has gone */
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop(): { peak: number; byTenth: number[] } {
      take();
      clearInterval(timer);
      const span = samples[samples.length - 1][0] || 1;
      const byTenth = Array.from({ length: 10 }, () => 0);
      for (const [ms, rss] of samples) {
        const i = Math.min(9, Math.floor((ms / span) * 10));
        byTenth[i] = Math.max(byTenth[i], rss);
      }
      return { peak: Math.max(...samples.map(([, rss]) => rss)), byTenth };
    },
  };
}

/** Waits up to graceMs for the child to exit by itself (it may be writing a profile), then ends it. */
export async function stopChild(child: ChildProcess, graceMs = 0): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  if (graceMs > 0) await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
