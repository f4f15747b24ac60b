import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Redis } from 'ioredis';

// Counts the Redis connections this process holds, as the Redis server sees them (CLIENT LIST),
// without trusting the code under test to report its own: a client belongs to this process when
// its address is one of this process's TCP sockets (/proc/self/fd and /proc/self/net/tcp*). Other
// test files share the Redis server, so the server's total would count their clients too.

function localPortsOfThisProcess(): Set<number> {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
      if (inode) inodes.add(inode);
    } catch {
      /* closed meanwhile */
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length > 9 && inodes.has(fields[9])) ports.add(parseInt(fields[1].split(':')[1], 16));
    }
  }
  return ports;
}

export async function redisClientsOfThisProcess(redis: Redis): Promise<number> {
  const list = String(await redis.call('CLIENT', 'LIST'));
  const ports = localPortsOfThisProcess();
  return list.split('\n').filter((line) => {
    const port = /(?:^| )addr=\S*:(\d+)(?:\s|$)/.exec(line)?.[1];
    return port !== undefined && ports.has(Number(port));
  }).length;
}
