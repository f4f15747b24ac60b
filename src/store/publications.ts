import type { Keys } from './keys.js';
import { defineLua, type RedisClient } from './lua.js';
import { isCluster } from './cluster.js';

// Progress of one alert's publication: where the email fan-out stands and when it finished.
//   state: fanning-out | fanned-out ; cursor: last subscriber id examined ; batches ; recipients

export interface PublicationState {
  state: 'not-started' | 'fanning-out' | 'fanned-out';
  cursor: number;
  batches: number;
  recipients: number;
  startedAt?: string;
  fannedOutAt?: string;
  finishedAt?: string;
}

// KEYS: pub, counts, alert[, activity]. ARGV: now-iso, alertId, maxActivity
// An alert becomes `published` only once fan-out is complete and no delivery is outstanding.
// On a cluster the global activity stream is in another slot: the caller adds the event after.
const finishScript = defineLua(
  'publication_finish',
  'any',
  `
if redis.call('HGET', KEYS[1], 'state') ~= 'fanned-out' then return 0 end
local outstanding = tonumber(redis.call('HGET', KEYS[2], 'outstanding') or '0')
if outstanding > 0 then return 0 end
if redis.call('HGET', KEYS[3], 'status') ~= 'publishing' then return 0 end
redis.call('HSET', KEYS[3], 'status', 'published', 'updatedAt', ARGV[1])
if not redis.call('HGET', KEYS[3], 'publishedAt') then redis.call('HSET', KEYS[3], 'publishedAt', ARGV[1]) end
redis.call('HSET', KEYS[1], 'finishedAt', ARGV[1])
if KEYS[4] then redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*', 'type', 'published', 'alert', ARGV[2]) end
return 1
`,
);

// KEYS: counts, alert. ARGV: now-iso. Re-opened deliveries put a published alert back to publishing.
const reopenScript = defineLua(
  'publication_reopen',
  2,
  `
local outstanding = tonumber(redis.call('HGET', KEYS[1], 'outstanding') or '0')
if outstanding > 0 and redis.call('HGET', KEYS[2], 'status') == 'published' then
  redis.call('HSET', KEYS[2], 'status', 'publishing', 'updatedAt', ARGV[1])
  return 1
end
return 0
`,
);

// KEYS: pub. ARGV: expected cursor, new cursor, recipients in the batch (0: no batch).
// Moves the cursor only from where the caller saw it, so a batch is counted once however many
// runs of the publish job queue it.
const advanceScript = defineLua(
  'publication_advance',
  1,
  `
if tonumber(redis.call('HGET', KEYS[1], 'cursor') or '0') ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'cursor', ARGV[2])
if tonumber(ARGV[3]) > 0 then
  redis.call('HINCRBY', KEYS[1], 'batches', 1)
  redis.call('HINCRBY', KEYS[1], 'recipients', ARGV[3])
end
return 1
`,
);

export class Publications {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly maxActivity: number,
  ) {}

  async get(alertId: string): Promise<PublicationState> {
    const raw = await this.redis.hgetall(this.keys.publication(alertId));
    return {
      state: (raw.state as PublicationState['state']) ?? 'not-started',
      cursor: Number(raw.cursor ?? 0),
      batches: Number(raw.batches ?? 0),
      recipients: Number(raw.recipients ?? 0),
      ...(raw.startedAt ? { startedAt: raw.startedAt } : {}),
      ...(raw.fannedOutAt ? { fannedOutAt: raw.fannedOutAt } : {}),
      ...(raw.finishedAt ? { finishedAt: raw.finishedAt } : {}),
    };
  }

  async start(alertId: string): Promise<void> {
    await this.redis
      .multi()
      .hsetnx(this.keys.publication(alertId), 'startedAt', new Date().toISOString())
      .hsetnx(this.keys.publication(alertId), 'state', 'fanning-out')
      .exec();
  }

  /**
   * Records that the batch of subscribers after `from` up to `to` is queued, if the cursor is still
   * at `from`. False: another run of the publish job moved it first (and counted that batch).
   */
  async advance(alertId: string, from: number, to: number, recipients: number): Promise<boolean> {
    return (await advanceScript.run(this.redis, [this.keys.publication(alertId)], [from, to, recipients])) === 1;
  }

  async markFannedOut(alertId: string): Promise<void> {
    await this.redis.hset(this.keys.publication(alertId), { state: 'fanned-out', fannedOutAt: new Date().toISOString() });
  }

  /** Marks the alert published if every delivery has an outcome. Safe to call from anywhere, any time. */
  async finishIfComplete(alertId: string): Promise<boolean> {
    const k = this.keys;
    const split = isCluster(this.redis);
    const own = [k.publication(alertId), k.counts(alertId), k.alert(alertId)];
    const done = await finishScript.run(this.redis, split ? own : [...own, k.activity()], [new Date().toISOString(), alertId, this.maxActivity]);
    // A crash between the two loses only this notification event, never the status change.
    if (done === 1 && split) await this.redis.xadd(k.activity(), 'MAXLEN', '~', this.maxActivity, '*', 'type', 'published', 'alert', alertId);
    return done === 1;
  }

  async reopenIfNeeded(alertId: string): Promise<void> {
    await reopenScript.run(this.redis, [this.keys.counts(alertId), this.keys.alert(alertId)], [new Date().toISOString()]);
  }
}
