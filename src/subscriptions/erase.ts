import type { Context } from '../context.js';
import { normaliseEmail } from '../domain/subscriber.js';
import { addressHash } from './keyed-hash.js';
import { suppress } from './suppression.js';
import { scanKeys } from '../store/cluster.js';

export interface ErasureReport {
  /** A subscriber record existed and was deleted. */
  found: boolean;
  /** Other places the address turned up (delivery errors, queue job errors, event streams) and was removed from. */
  scrubbed: number;
}

const ERASED = '[erased]';

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Removes a person's data everywhere: the subscriber record, the address index, pending requests,
 * bounce counts, rate-limit and confirmation-window markers. What stays is the keyed hash in the
 * suppression set, so no import can add them back, and ledger entries keyed by the numeric id.
 * Then every key under the prefix is searched for the address (an SMTP server may have quoted
 * it in an error that reached the ledger, a queue job or an event stream) and it is cut out.
 */
export async function eraseSubscriber(ctx: Context, email: string): Promise<ErasureReport> {
  const norm = normaliseEmail(email);
  const id = await ctx.subscribers.idByEmail(norm);
  await suppress(ctx, norm);
  const multi = ctx.redis
    .multi()
    .hdel(ctx.keys.subscriberByEmail(norm), norm)
    .del(ctx.keys.rateLimit('addr', addressHash(ctx.secret, 'rate-address', norm)), ctx.keys.confirmationSent(addressHash(ctx.secret, 'confirm-window', norm)));
  if (id) {
    multi.del(ctx.keys.subscriber(id), ctx.keys.subscriptionPending(id), ctx.keys.subscriberBounces(id)).zrem(ctx.keys.pendingExpiry(), String(id));
  }
  await multi.exec();
  if (id) await ctx.activity.append({ type: 'erased', subscriber: id });
  const scrubbed = await scrubAddress(ctx, norm, id);
  ctx.log.info({ subscriber: id ?? null, scrubbed }, 'subscriber erased');
  return { found: id !== null, scrubbed };
}

/**
 * Searches every key under the prefix for the address (case-insensitive) and removes it:
 * replaced by "[erased]" in strings and hash values, members and stream entries deleted.
 * Subscriber records are skipped (each holds only its own address; the erased one is gone),
 * and ledger hashes are read only at this subscriber's field, so the cost grows with the number
 * of alerts and queue jobs, not with the number of subscribers.
 */
export async function scrubAddress(ctx: Context, norm: string, id: number | null): Promise<number> {
  const { keys } = ctx;
  const redis = ctx.redis;
  const prefix = keys.prefix;
  const needle = new RegExp(escapeRegExp(norm), 'gi');
  const has = (s: string | null | undefined) => !!s && s.toLowerCase().includes(norm);
  const clean = (s: string) => s.replace(needle, ERASED);
  // keys.subscriber(0) ends in "0": `prefix:sub:` on a server, `{prefix}:sub:` on a cluster.
  const subscriberKey = new RegExp(`^${escapeRegExp(keys.subscriber(0).slice(0, -1))}\\d+$`);
  const ledgerKey = new RegExp(`^${escapeRegExp(prefix)}:ledger:`);
  let scrubbed = 0;
  // Every master of a cluster, every pattern the prefix's keys take (keys.scanPatterns()).
  const pages = (async function* () {
    for (const pattern of keys.scanPatterns()) yield* scanKeys(redis, pattern);
  })();
  for await (const batch of pages) {
    const types = await Promise.all(batch.map((key) => redis.type(key)));
    for (let i = 0; i < batch.length; i++) {
      const key = batch[i];
      if (subscriberKey.test(key)) continue;
      if (has(key)) {
        scrubbed += await redis.unlink(key);
        continue;
      }
      switch (types[i]) {
        case 'string': {
          const value = await redis.get(key);
          if (value && has(value)) {
            await redis.set(key, clean(value), 'KEEPTTL');
            scrubbed++;
          }
          break;
        }
        case 'hash': {
          if (ledgerKey.test(key)) {
            if (id === null) break;
            const entry = await redis.hget(key, String(id));
            if (entry && has(entry)) {
              await redis.hset(key, String(id), clean(entry));
              scrubbed++;
            }
            break;
          }
          let hcursor = '0';
          do {
            const [hnext, flat] = await redis.hscan(key, hcursor, 'COUNT', 500);
            hcursor = hnext;
            for (let j = 0; j < flat.length; j += 2) {
              const [field, value] = [flat[j], flat[j + 1]];
              if (has(field)) {
                await redis.hdel(key, field);
                scrubbed++;
              } else if (has(value)) {
                await redis.hset(key, field, clean(value));
                scrubbed++;
              }
            }
          } while (hcursor !== '0');
          break;
        }
        case 'list': {
          const items = await redis.lrange(key, 0, -1);
          for (const item of new Set(items.filter(has))) {
            await redis.lrem(key, 0, item);
            scrubbed++;
          }
          break;
        }
        case 'set': {
          const members = await redis.smembers(key);
          const hits = members.filter(has);
          if (hits.length) scrubbed += await redis.srem(key, ...hits);
          break;
        }
        case 'zset': {
          const members = await redis.zrange(key, 0, '-1'); // ioredis 6 types `stop` as a string
          const hits = members.filter(has);
          if (hits.length) scrubbed += await redis.zrem(key, ...hits);
          break;
        }
        case 'stream': {
          let start = '-';
          for (;;) {
            const entries = (await redis.xrange(key, start, '+', 'COUNT', 1000)) as Array<[string, string[]]>;
            const hits = entries.filter(([, fields]) => fields.some(has)).map(([entryId]) => entryId);
            if (hits.length) scrubbed += await redis.xdel(key, ...hits);
            if (entries.length < 1000) break;
            start = `(${entries[entries.length - 1][0]}`;
          }
          break;
        }
      }
    }
  }
  return scrubbed;
}
