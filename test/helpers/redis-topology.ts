import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { exited, killTree, spawnMarked } from './cli.js';
import { testRedisUrl } from './context.js';

// Real Redis topologies for tests, started from redis-server on free ports in a temporary
// directory, with no persistence: a 3-master cluster (redis-cli --cluster create), and a primary
// with a replica watched by three sentinels (redis-server --sentinel). Each is stopped, process
// tree and directory, by its stop() in the test file's afterAll.

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free port whose cluster-bus port (port + 10000) is free too. */
export async function freeRedisPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    if (taken.has(port) || taken.has(port + 10000)) continue;
    if ((await portFree(port)) && (await portFree(port + 10000))) {
      taken.add(port);
      taken.add(port + 10000);
      return port;
    }
  }
}

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

async function ask(port: number, ...args: string[]): Promise<string> {
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return String(await probe.call(args[0], ...args.slice(1)));
  } finally {
    probe.disconnect();
  }
}

export class RedisProcesses {
  readonly dir = mkdtempSync(join(tmpdir(), 'tocsin-test-topology-'));
  private readonly children = new Map<number, ChildProcess>();
  private readonly taken = new Set<number>();

  async port(): Promise<number> {
    return freeRedisPort(this.taken);
  }

  /** Starts redis-server with `args` (memory only, logging to a file) and waits until it answers. */
  async server(port: number, args: string[], sentinel = false): Promise<ChildProcess> {
    const base = ['--port', String(port), '--bind', '127.0.0.1', '--dir', this.dir, '--logfile', join(this.dir, `${port}.log`)];
    const child = sentinel
      ? spawnMarked('redis-server', [join(this.dir, `sentinel-${port}.conf`), '--sentinel', ...base], process.env, { track: false })
      : spawnMarked('redis-server', [...base, '--save', '', '--appendonly', 'no', ...args], process.env, { track: false });
    child.stdout?.resume();
    child.stderr?.resume();
    this.children.set(port, child);
    await until(`redis-server on ${port}`, async () => (await ask(port, 'PING')) === 'PONG', 20_000);
    return child;
  }

  /** SIGKILL one server (a crash, not a shutdown). */
  async kill(port: number): Promise<void> {
    const child = this.children.get(port);
    if (!child) return;
    killTree(child, 'SIGKILL');
    await exited(child);
    this.children.delete(port);
  }

  async stop(): Promise<void> {
    const all = [...this.children.values()];
    for (const child of all) killTree(child, 'SIGKILL');
    await Promise.all(all.map(exited));
    this.children.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface StartedCluster {
  nodes: string[];
  procs: RedisProcesses;
  stop(): Promise<void>;
}

/** Three masters, no replicas, all 16384 slots assigned; resolves once `cluster info` says ok on each. */
export async function startRedisCluster(masters = 3): Promise<StartedCluster> {
  const procs = new RedisProcesses();
  try {
    const ports: number[] = [];
    for (let i = 0; i < masters; i++) ports.push(await procs.port());
    await Promise.all(
      ports.map((port) =>
        procs.server(port, ['--cluster-enabled', 'yes', '--cluster-config-file', join(procs.dir, `nodes-${port}.conf`), '--cluster-node-timeout', '5000']),
      ),
    );
    const create = spawnMarked(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      process.env,
      { track: false },
    );
    let out = '';
    create.stdout?.on('data', (d) => (out += d));
    create.stderr?.on('data', (d) => (out += d));
    const code = await exited(create);
    if (code !== 0) throw new Error(`redis-cli --cluster create failed (${code}): ${out}`);
    for (const port of ports)
      await until(`cluster state ok on ${port}`, async () => {
        const info = await ask(port, 'CLUSTER', 'INFO');
        return /cluster_state:ok/.test(info) && /cluster_known_nodes:(\d+)/.exec(info)?.[1] === String(masters);
      });
    const nodes = ports.map((p) => `127.0.0.1:${p}`);
    return { nodes, procs, stop: () => procs.stop() };
  } catch (err) {
    await procs.stop();
    throw err;
  }
}

/** A Redis topology a parametrised test runs on: the suite's server, or a cluster it starts. */
export interface RedisBackend {
  name: 'single' | 'cluster';
  /** Starts what it needs; returns the `redis` config overrides (merged into testConfig). */
  start(): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export function redisBackends(): RedisBackend[] {
  let cluster: StartedCluster | undefined;
  return [
    { name: 'single', start: async () => ({ url: testRedisUrl() }), stop: async () => {} },
    {
      name: 'cluster',
      start: async () => {
        cluster = await startRedisCluster();
        return { cluster: { nodes: cluster.nodes } };
      },
      stop: async () => {
        await cluster?.stop();
        cluster = undefined;
      },
    },
  ];
}

export interface StartedSentinel {
  primary: number;
  replica: number;
  sentinels: string[];
  name: string;
  procs: RedisProcesses;
  stop(): Promise<void>;
}

/** A primary, one replica in sync, and three sentinels that see both and each other (quorum 2). */
export async function startRedisSentinel(name = 'mymaster'): Promise<StartedSentinel> {
  const procs = new RedisProcesses();
  try {
    const primary = await procs.port();
    const replica = await procs.port();
    await procs.server(primary, []);
    await procs.server(replica, ['--replicaof', '127.0.0.1', String(primary)]);
    await until('the replica in sync', async () => /slave0:.*state=online/.test(await ask(primary, 'INFO', 'replication')));
    const ports = [await procs.port(), await procs.port(), await procs.port()];
    for (const port of ports)
      writeFileSync(
        join(procs.dir, `sentinel-${port}.conf`),
        [
          `sentinel monitor ${name} 127.0.0.1 ${primary} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
    await Promise.all(ports.map((port) => procs.server(port, [], true)));
    for (const port of ports)
      await until(`sentinel ${port} to know the replica and the other sentinels`, async () => {
        const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        probe.on('error', () => {});
        try {
          await probe.connect();
          const master = (await probe.call('SENTINEL', 'MASTER', name)) as string[];
          const field = (f: string) => master[master.indexOf(f) + 1];
          return field('num-slaves') === '1' && field('num-other-sentinels') === '2';
        } finally {
          probe.disconnect();
        }
      });
    return { primary, replica, sentinels: ports.map((p) => `127.0.0.1:${p}`), name, procs, stop: () => procs.stop() };
  } catch (err) {
    await procs.stop();
    throw err;
  }
}
