import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './children.js';

// A memory-only redis-server of the benchmark's own, on a free port: the benchmark never
// touches a Redis someone else runs (in particular not 127.0.0.1:6379).

export interface PrivateRedis {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** `replicaOf`: start it as a replica of that port (for measuring the ledger's WAIT). */
export async function startPrivateRedis(replicaOf?: number): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tocsin-bench-redis-'));
  const child: ChildProcess = spawn(
    'redis-server',
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--maxmemory-policy', 'noeviction'],
      ...(replicaOf ? ['--replicaof', '127.0.0.1', String(replicaOf)] : []),
    ],
    { stdio: 'ignore' },
  );
  const failed = new Promise<never>((_, reject) =>
    child.once('error', (err) => reject(new Error(`could not start redis-server (${err.message}); install it with \`apt install redis-server\``))),
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await Promise.race([probe.connect().then(() => probe.ping()), failed]);
      probe.disconnect();
      return {
        url,
        pid: child.pid as number,
        async stop() {
          if (child.exitCode === null) {
            const exited = new Promise((r) => child.once('exit', r));
            child.kill('SIGTERM');
            await exited;
          }
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      probe.disconnect();
      if (child.exitCode !== null || (err as Error).message.includes('could not start')) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill('SIGTERM');
  throw new Error('the benchmark redis-server did not start within 10 s');
}
