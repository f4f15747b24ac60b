import type { Keys } from './keys.js';
import { defineLua, type RedisClient } from './lua.js';
import type { BounceKind } from '../subscriptions/bounces/types.js';

// The activity log: one capped stream of lifecycle events, for the status notifier and anyone who
// wants to follow what Tocsin did. Every entry is one of these, written here and read back through
// parseActivity(); the two Lua scripts that append entries ('published' in publications.ts,
// 'channel-failing' in the notifier) write the same fields.

export type ActivityEvent =
  | { type: 'publish-requested'; alert: string; actor: string }
  | { type: 'published'; alert: string }
  | { type: 'retry'; alert: string; requeued: Record<string, number> }
  | { type: 'halted'; alert: string; actor: string; reason: string }
  | { type: 'resumed'; alert: string; actor: string }
  | { type: 'corrected' | 'retracted'; alert: string; version: number; actor: string }
  | { type: 'channel-failing'; channel: string; failures: number }
  | { type: 'subscribed'; subscriber: number; via: string }
  | { type: 'unsubscribed'; subscriber: number; via: string }
  | { type: 'erased'; subscriber: number }
  | { type: 'bounced' | 'complained'; subscriber: number; via: string; kind: BounceKind };

export type ActivityType = ActivityEvent['type'];

/** Stream fields of an event: flat strings, objects as JSON. */
export function activityFields(event: ActivityEvent): string[] {
  return Object.entries(event).flatMap(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]);
}

/** An entry read back from the stream; null for a type this version does not know. */
export function parseActivity(flat: string[] | null | undefined): ActivityEvent | null {
  const f: Record<string, string> = {};
  for (let i = 0; flat && i < flat.length; i += 2) f[flat[i]] = flat[i + 1];
  const num = (v: string | undefined) => Number(v ?? NaN);
  switch (f.type) {
    case 'publish-requested':
      return f.alert ? { type: f.type, alert: f.alert, actor: f.actor ?? '' } : null;
    case 'published':
      return f.alert ? { type: f.type, alert: f.alert } : null;
    case 'retry':
      return f.alert ? { type: f.type, alert: f.alert, requeued: JSON.parse(f.requeued ?? '{}') as Record<string, number> } : null;
    case 'halted':
      return f.alert ? { type: f.type, alert: f.alert, actor: f.actor ?? '', reason: f.reason ?? '' } : null;
    case 'resumed':
      return f.alert ? { type: f.type, alert: f.alert, actor: f.actor ?? '' } : null;
    case 'corrected':
    case 'retracted':
      return f.alert ? { type: f.type, alert: f.alert, version: num(f.version), actor: f.actor ?? '' } : null;
    case 'channel-failing':
      return f.channel ? { type: f.type, channel: f.channel, failures: num(f.failures) || 0 } : null;
    case 'subscribed':
    case 'unsubscribed':
      return { type: f.type, subscriber: num(f.subscriber), via: f.via ?? '' };
    case 'erased':
      return { type: f.type, subscriber: num(f.subscriber) };
    case 'bounced':
    case 'complained':
      return { type: f.type, subscriber: num(f.subscriber), via: f.via ?? '', kind: (f.kind ?? 'hard') as BounceKind };
    default:
      return null;
  }
}

// KEYS: failing flags, activity. ARGV: channel, failures, maxlen.
// Only the process that sets the flag queues the notice, so a failing streak is announced once.
const failingScript = defineLua(
  'activity_channel_failing',
  2,
  `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'type', 'channel-failing', 'channel', ARGV[1], 'failures', ARGV[2])
return 1
`,
);

export class ActivityLog {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly maxLength: number,
  ) {}

  async append(event: ActivityEvent): Promise<void> {
    await this.redis.xadd(this.keys.activity(), 'MAXLEN', '~', this.maxLength, '*', ...activityFields(event));
  }

  /** Appends 'channel-failing' unless this failing streak was already announced. */
  async announceFailing(channel: string, failures: number): Promise<boolean> {
    return (await failingScript.run(this.redis, [this.keys.notifyFailing(), this.keys.activity()], [channel, failures, this.maxLength])) === 1;
  }
}
