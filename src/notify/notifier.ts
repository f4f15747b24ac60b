import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Context } from '../context.js';
import { alertStatus } from '../publish/status.js';
import { channelFailingNotice, alertPublishedNotice, type Notice } from './payload.js';
import { resolveTargets, sendNotice, type NotifyTarget } from './send.js';
import { parseActivity, type ActivityEvent } from '../store/activity.js';
import { processEnvironment } from '../config/environment.js';

// Status webhooks. Every worker process runs this loop; a Redis consumer group on the activity
// stream hands each entry to exactly one of them. An entry is acknowledged once every target
// took it (or after notify.maxRounds tries), so a crash mid-send means the entry is sent again
// by another process: at-least-once, with an Idempotency-Key per entry for receivers to dedupe.

export const NOTIFY_GROUP = 'notify';
const PROGRESS_TTL_S = 7 * 24 * 3600;

export interface StatusNotifier {
  stop(): Promise<void>;
}

export interface NotifierOptions {
  env?: NodeJS.ProcessEnv;
  /** Longest wait for new activity before checking channel health again. */
  blockMs?: number;
}

export function startStatusNotifier(ctx: Context, options: NotifierOptions = {}): StatusNotifier {
  const config = ctx.config.notify;
  if (config.targets.length === 0) return { async stop() {} };
  const log = ctx.log.child({ component: 'notify' });
  const { targets, problems } = resolveTargets(config.targets, options.env ?? processEnvironment());
  for (const problem of problems) log.warn(problem);
  if (targets.length === 0) return { async stop() {} };
  const stream = ctx.keys.activity();
  const consumer = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  // Blocking reads get their own connection so they never hold up anyone else's commands.
  const reader = ctx.redis.duplicate();
  reader.on('error', () => {});
  const blockMs = options.blockMs ?? 2000;
  let stopping = false;
  let wake: (() => void) | undefined;

  const ensureGroup = async () => {
    try {
      // `$`: only what happens from now on; a first start does not announce old alerts.
      await ctx.redis.xgroup('CREATE', stream, NOTIFY_GROUP, '$', 'MKSTREAM');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
  };

  // Consumers of processes that died stay in the group; drop those idle a day with nothing pending.
  const forgetDeadConsumers = async () => {
    const consumers = (await ctx.redis.xinfo('CONSUMERS', stream, NOTIFY_GROUP)) as unknown[][];
    for (const c of consumers) {
      const field = (name: string) => c[c.indexOf(name) + 1];
      if (Number(field('pending')) === 0 && Number(field('idle')) > 24 * 3600_000)
        await ctx.redis.xgroup('DELCONSUMER', stream, NOTIFY_GROUP, String(field('name')));
    }
  };

  const detectFailing = async () => {
    const [health, flagged] = await Promise.all([ctx.health.all(), ctx.redis.hgetall(ctx.keys.notifyFailing())]);
    for (const [channel, h] of Object.entries(health)) {
      if (h.consecutiveFailures >= config.failingAfter && !(channel in flagged)) {
        await ctx.activity.announceFailing(channel, h.consecutiveFailures);
      } else if (h.consecutiveFailures < config.failingAfter && channel in flagged) {
        // Recovered (a delivery went through): the next streak is announced again.
        await ctx.redis.hdel(ctx.keys.notifyFailing(), channel);
      }
    }
  };

  const noticeFor = async (id: string, event: ActivityEvent | null): Promise<Notice | null> => {
    if (event?.type === 'published') {
      const report = await alertStatus(ctx, event.alert, 1).catch(() => null);
      return report ? alertPublishedNotice(id, report, ctx.config.http.publicUrl) : null;
    }
    if (event?.type === 'channel-failing') {
      const health = await ctx.health.get(event.channel);
      return channelFailingNotice(
        id,
        event.channel,
        { ...health, consecutiveFailures: Math.max(health.consecutiveFailures, event.failures) },
        config.failingAfter,
      );
    }
    return null;
  };

  const handle = async (id: string, flat: string[] | null) => {
    const notice = await noticeFor(id, parseActivity(flat));
    const wanted: NotifyTarget[] = notice ? targets.filter((t) => t.events.includes(notice.type)) : [];
    if (!notice || wanted.length === 0) {
      await ctx.redis.xack(stream, NOTIFY_GROUP, id);
      return;
    }
    const progressKey = ctx.keys.notifyProgress(id);
    const [[, done], [, rounds]] = (await ctx.redis
      .multi()
      .hgetall(progressKey)
      .hincrby(progressKey, '#rounds', 1)
      .expire(progressKey, PROGRESS_TTL_S)
      .exec()) as [[unknown, Record<string, string>], [unknown, number], unknown];
    let remaining = 0;
    for (const target of wanted) {
      if (done[target.key] === 'done') continue;
      try {
        await sendNotice(target, notice);
        await ctx.redis.hset(progressKey, target.key, 'done');
        log.info({ event: notice.type, entry: id, target: target.host }, 'status notification sent');
      } catch (err) {
        remaining++;
        const last = rounds >= config.maxRounds;
        log[last ? 'error' : 'warn'](
          { event: notice.type, entry: id, target: target.host, round: rounds, err: (err as Error).message },
          last ? 'status notification given up' : 'status notification failed; will try again',
        );
      }
    }
    if (remaining === 0 || rounds >= config.maxRounds) {
      await ctx.redis.multi().xack(stream, NOTIFY_GROUP, id).del(progressKey).exec();
    }
  };

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const loop = (async () => {
    while (!stopping) {
      try {
        await ensureGroup();
        await forgetDeadConsumers();
        break;
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'cannot create the notification consumer group; retrying');
        await pause(1000);
      }
    }
    while (!stopping) {
      try {
        await detectFailing();
        // Entries another process took and never acknowledged (it died, or a target was down).
        const [, stale] = (await ctx.redis.xautoclaim(stream, NOTIFY_GROUP, consumer, config.retryAfterMs, '0-0', 'COUNT', 20)) as [
          string,
          Array<[string, string[] | null]>,
        ];
        for (const [id, flat] of stale) if (!stopping) await handle(id, flat);
        if (stopping) break;
        const read = (await reader.xreadgroup('GROUP', NOTIFY_GROUP, consumer, 'COUNT', 20, 'BLOCK', blockMs, 'STREAMS', stream, '>')) as Array<
          [string, Array<[string, string[]]>]
        > | null;
        for (const [, entries] of read ?? []) for (const [id, flat] of entries) await handle(id, flat);
      } catch (err) {
        if (stopping) break;
        const message = (err as Error).message;
        // The stream or group was deleted under us (a reset): recreate and carry on.
        if (/NOGROUP/.test(message)) await ensureGroup().catch(() => {});
        else log.warn({ err: message }, 'status notifier error; retrying');
        await pause(1000);
      }
    }
  })();

  return {
    async stop() {
      stopping = true;
      wake?.();
      // Breaks a blocking read at once; a send in progress finishes first.
      reader.disconnect();
      await loop;
      // Deleting a consumer orphans its pending entries, so only an idle one is removed.
      const pending = (await ctx.redis.xpending(stream, NOTIFY_GROUP, '-', '+', 1, consumer).catch(() => [1])) as unknown[];
      if (pending.length === 0) await ctx.redis.xgroup('DELCONSUMER', stream, NOTIFY_GROUP, consumer).catch(() => {});
    },
  };
}
