import type { Cluster, Redis } from 'ioredis';

// Every Lua script is defined here once, and registered on a connection with ioredis'
// defineCommand (EVALSHA, with EVAL only when the server has not seen it yet) when the connection
// is made (src/store/scripts.ts), before any command: an auto-pipeline created before a
// defineCommand would not know the command. Each script takes every key it touches as a KEYS
// argument, never built from ARGV: Redis Cluster routes a script by its keys.

export type RedisClient = Redis | Cluster;

type Runner = (...keysThenArgs: Array<string | number>) => Promise<unknown>;

export interface LuaScript {
  readonly name: string;
  /** 'any': the caller passes however many keys it has (a batch of subscribers, a set of buckets). */
  readonly numberOfKeys: number | 'any';
  readonly lua: string;
  /** Runs the script with exactly `numberOfKeys` keys. */
  run(redis: RedisClient, keys: string[], args: Array<string | number>): Promise<unknown>;
}

const defined = new Map<string, LuaScript>();
const commandName = (name: string) => `tocsin_${name}`;

export function defineLua(name: string, numberOfKeys: number | 'any', lua: string): LuaScript {
  if (defined.has(name)) throw new Error(`Lua script ${name} is defined twice`);
  const script: LuaScript = {
    name,
    numberOfKeys,
    lua,
    run(redis, keys, args) {
      if (numberOfKeys !== 'any' && keys.length !== numberOfKeys) throw new Error(`script ${name} takes ${numberOfKeys} keys, got ${keys.length}`);
      const runner = (redis as unknown as Record<string, Runner | undefined>)[commandName(name)];
      if (!runner) throw new Error(`script ${name} is not registered on this connection; connect with connectRedis()`);
      return numberOfKeys === 'any' ? runner.call(redis, keys.length, ...keys, ...args) : runner.call(redis, ...keys, ...args);
    },
  };
  defined.set(name, script);
  return script;
}

/** Registers every script defined so far on a new connection. */
export function registerScripts(redis: RedisClient): void {
  for (const script of defined.values())
    redis.defineCommand(commandName(script.name), script.numberOfKeys === 'any' ? { lua: script.lua } : { numberOfKeys: script.numberOfKeys, lua: script.lua });
}
