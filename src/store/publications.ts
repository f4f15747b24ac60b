import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

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

// KEYS: pub, counts, alert, activity. ARGV: now-iso
// An alert becomes `published` only once fan-out is complete and no delivery is outstanding.
const FINISH_LUA = `
if redis.call('HGET', KEYS[1], 'state') ~= 'fanned-out' then return 0 end
local outstanding = tonumber(redis.call('HGET', KEYS[2], 'outstanding') or '0')
if outstanding > 0 then return 0 end
if redis.call('HGET', KEYS[3], 'status') ~= 'publishing' then return 0 end
redis.call('HSET', KEYS[3], 'status', 'published', 'updatedAt', ARGV[1])
if not redis.call('HGET', KEYS[3], 'publishedAt') then redis.call('HSET', KEYS[3], 'publishedAt', ARGV[1]) end
redis.call('HSET', KEYS[1], 'finishedAt', ARGV[1])
local id = string.match(KEYS[3], '[^:]+$')
redis.call('XADD', KEYS[4], 'MAXLEN', '~', '10000', '*', 'type', 'published', 'alert', id)
return 1
`;

// KEYS: counts, alert. ARGV: now-iso. Re-opened deliveries put a published alert back to publishing.
const REOPEN_LUA = `
local outstanding = tonumber(redis.call('HGET', KEYS[1], 'outstanding') or '0')
if outstanding > 0 and redis.call('HGET', KEYS[2], 'status') == 'published' then
  redis.call('HSET', KEYS[2], 'status', 'publishing', 'updatedAt', ARGV[1])
  return 1
end
return 0
`;

export class Publications {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
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

  /** Records that batches up to `cursor` are queued. Written after the jobs are added. */
  async advance(alertId: string, cursor: number, recipients: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.publication(alertId), 'cursor', cursor)
      .hincrby(this.keys.publication(alertId), 'batches', 1)
      .hincrby(this.keys.publication(alertId), 'recipients', recipients)
      .exec();
  }

  async markFannedOut(alertId: string): Promise<void> {
    await this.redis.hset(this.keys.publication(alertId), { state: 'fanned-out', fannedOutAt: new Date().toISOString() });
  }

  /** Marks the alert published if every delivery has an outcome. Safe to call from anywhere, any time. */
  async finishIfComplete(alertId: string): Promise<boolean> {
    const k = this.keys;
    const done = await this.redis.eval(FINISH_LUA, 4, k.publication(alertId), k.counts(alertId), k.alert(alertId), k.activity(), new Date().toISOString());
    return done === 1;
  }

  async reopenIfNeeded(alertId: string): Promise<void> {
    await this.redis.eval(REOPEN_LUA, 2, this.keys.counts(alertId), this.keys.alert(alertId), new Date().toISOString());
  }
}
