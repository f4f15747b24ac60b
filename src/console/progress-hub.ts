import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Context } from '../context.js';
import { errors, withRetryAfter } from '../errors.js';
import { RateMeter } from './progress.js';
import { isCluster } from '../store/cluster.js';
import { progressSnapshot } from './progress-snapshot.js';

// Every live-progress stream (SSE) in this process shares one Redis connection: a single loop
// blocks on XREAD over the event streams of every alert someone is watching, and fans each change
// out to that alert's subscribers. One snapshot is read per alert per change (not per stream), and
// the number of streams is capped per session and in total, so a page opened 3,000 times costs
// 3,000 sockets and one Redis client, not 3,000 Redis clients.

const BLOCK_MS = 5000;
/** While an alert is publishing, look again sooner: its final status change is not a delivery event. */
const BLOCK_PUBLISHING_MS = 1000;
/** Bursts of events are coalesced into at most one update per this many ms. */
const MIN_INTERVAL_MS = 250;
/** A client that stops reading is dropped once this much is waiting for it. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** On a cluster (no multi-slot XREAD), how often each watched stream is read. */
const POLL_MS = 250;

type StreamRead = Array<[string, Array<[string, string[]]>]>;

export interface StreamLimits {
  perSession: number;
  total: number;
}

/** One open stream, as the hub sees it: where to write, and how to end it. */
export interface StreamSink {
  write(chunk: string): void;
  /** Bytes written but not yet taken by the client. */
  readonly buffered: number;
  end(): void;
}

interface Feed {
  alertId: string;
  key: string;
  /** Last event-stream id read, or null until the starting point has been read. */
  lastId: string | null;
  meter: RateMeter;
  streams: Set<OpenStream>;
  /** Streams that have not had their first event yet. */
  welcome: Set<OpenStream>;
  dirty: boolean;
  /** When every stream last got an event. */
  sentAt: number;
  /** When every stream gets an event even if nothing happened (so rates decay). */
  dueAt: number;
  /** After a failed read: nothing before this time. */
  notBefore: number;
}

interface OpenStream {
  sink: StreamSink;
  owner: string;
  feed: Feed;
  closed: boolean;
}

/** When a feed next needs a snapshot: new streams at once, changes at most every MIN_INTERVAL_MS, else when due. */
function readyAt(feed: Feed): number {
  const wanted = Math.min(feed.welcome.size > 0 ? 0 : Infinity, feed.dirty ? feed.sentAt + MIN_INTERVAL_MS : Infinity, feed.dueAt);
  return Math.max(wanted, feed.notBefore);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const hubs = new Set<ProgressHub>();

/** Open live-progress streams and their Redis readers in this process, for /metrics. */
export function liveStreamStats(): { streams: number; alerts: number; readers: number } {
  let streams = 0;
  let alerts = 0;
  let readers = 0;
  for (const hub of hubs) {
    const s = hub.stats();
    streams += s.streams;
    alerts += s.alerts;
    readers += s.readers;
  }
  return { streams, alerts, readers };
}

export class ProgressHub {
  private readonly feeds = new Map<string, Feed>();
  private readonly perOwner = new Map<string, number>();
  private streamCount = 0;
  private reader?: Redis;
  private loop?: Promise<void>;
  private closed = false;
  /** A stream of this process's own, added to on every change the loop must see at once. */
  private readonly wakeKey: string;
  private wakeId = '0-0';
  private wakePending = false;

  constructor(
    private readonly ctx: Context,
    private readonly limits: StreamLimits,
  ) {
    this.wakeKey = ctx.keys.liveStreamWake(randomBytes(8).toString('hex'));
    hubs.add(this);
  }

  stats(): { streams: number; alerts: number; readers: number } {
    return { streams: this.streamCount, alerts: this.feeds.size, readers: this.reader ? 1 : 0 };
  }

  /**
   * Opens a stream for one alert, synchronously: the caller attaches its close listener in the
   * same tick. Throws TOO_MANY_STREAMS (429) past the per-session cap, STREAMS_FULL (503) past
   * the total. Returns the function that closes it; calling it twice is harmless.
   */
  open(alertId: string, owner: string, sink: StreamSink): () => void {
    if (this.closed) throw withRetryAfter(errors.STREAMS_FULL('the server is shutting down'), 5);
    const mine = this.perOwner.get(owner) ?? 0;
    if (mine >= this.limits.perSession)
      throw withRetryAfter(errors.TOO_MANY_STREAMS(`this session already has ${mine} open (console.liveStreams.perSession); close other alert pages`), 10);
    if (this.streamCount >= this.limits.total)
      throw withRetryAfter(errors.STREAMS_FULL(`this server already serves ${this.streamCount} (console.liveStreams.total); try again shortly`), 30);
    this.perOwner.set(owner, mine + 1);
    this.streamCount++;

    let feed = this.feeds.get(alertId);
    if (!feed) {
      feed = {
        alertId,
        key: this.ctx.keys.events(alertId),
        lastId: null,
        meter: new RateMeter(),
        streams: new Set(),
        welcome: new Set(),
        dirty: false,
        sentAt: 0,
        dueAt: 0,
        notBefore: 0,
      };
      this.feeds.set(alertId, feed);
    }
    const stream: OpenStream = { sink, owner, feed, closed: false };
    feed.streams.add(stream);
    feed.welcome.add(stream);
    this.wake();
    return () => this.close(stream);
  }

  /** Ends every stream and the reader (server shutdown). */
  async shutdown(): Promise<void> {
    this.closed = true;
    hubs.delete(this);
    for (const feed of [...this.feeds.values()]) for (const stream of [...feed.streams]) this.close(stream);
    this.reader?.disconnect();
    await this.loop;
  }

  private close(stream: OpenStream): void {
    if (stream.closed) return;
    stream.closed = true;
    const { feed, owner } = stream;
    feed.streams.delete(stream);
    feed.welcome.delete(stream);
    this.streamCount--;
    const left = (this.perOwner.get(owner) ?? 1) - 1;
    if (left > 0) this.perOwner.set(owner, left);
    else this.perOwner.delete(owner);
    if (feed.streams.size === 0 && this.feeds.get(feed.alertId) === feed) {
      this.feeds.delete(feed.alertId);
      this.wake();
    }
    try {
      stream.sink.end();
    } catch {
      /* the socket is already gone */
    }
  }

  /** Starts the loop if needed, and makes a blocked XREAD return at once. */
  private wake(): void {
    if (this.closed) return;
    if (!this.loop) {
      this.loop = this.run().finally(() => {
        this.loop = undefined;
        // A stream opened while the loop was finishing needs a new one.
        if (this.feeds.size > 0 && !this.closed) this.wake();
      });
      return;
    }
    if (this.wakePending) return;
    this.wakePending = true;
    this.ctx.redis
      .multi()
      .xadd(this.wakeKey, 'MAXLEN', '~', '10', '*', 'w', '1')
      .expire(this.wakeKey, 60)
      .exec()
      .catch(() => {
        /* the loop wakes by itself within BLOCK_MS */
      });
  }

  private async run(): Promise<void> {
    const reader = this.ctx.redis.duplicate();
    reader.on('error', () => {
      /* the loop sees failures and retries */
    });
    this.reader = reader;
    try {
      // Wake-ups from now on end a blocked read; earlier ones are seen by hasWork().
      const [lastWake] = await this.ctx.redis.xrevrange(this.wakeKey, '+', '-', 'COUNT', 1);
      this.wakeId = lastWake?.[0] ?? '0-0';
      while (!this.closed && this.feeds.size > 0) {
        try {
          await this.startFeeds();
          await this.refresh();
          if (this.closed || this.feeds.size === 0) break;
          // Work that arrived while refreshing is done before blocking again.
          if (this.hasWork()) continue;
          const feeds = [...this.feeds.values()].filter((f) => f.lastId !== null);
          const now = Date.now();
          const block = Math.max(10, Math.min(BLOCK_MS, ...feeds.map((f) => readyAt(f) - now)));
          this.wakePending = false;
          const result = isCluster(this.ctx.redis)
            ? await this.poll(feeds, block)
            : ((await reader.xread(
                'COUNT',
                1000,
                'BLOCK',
                block,
                'STREAMS',
                this.wakeKey,
                ...feeds.map((f) => f.key),
                this.wakeId,
                ...feeds.map((f) => f.lastId!),
              )) as StreamRead | null);
          for (const [key, entries] of result ?? []) {
            if (entries.length === 0) continue;
            const last = entries[entries.length - 1][0];
            if (key === this.wakeKey) {
              this.wakeId = last;
              continue;
            }
            const feed = feeds.find((f) => f.key === key);
            if (feed && this.feeds.get(feed.alertId) === feed) {
              feed.lastId = last;
              feed.dirty = true;
            }
          }
        } catch (err) {
          if (this.closed) break;
          this.ctx.log.warn({ err: (err as Error).message }, 'live progress read failed; retrying');
          await sleep(1000);
        }
      }
    } finally {
      this.reader = undefined;
      reader.disconnect();
    }
  }

  /**
   * On a cluster the event streams live in different slots, and one XREAD may name keys of one
   * slot only: read each stream (without blocking) every POLL_MS until something came, a wake-up
   * was asked for in this process, or `blockMs` passed.
   */
  private async poll(feeds: Feed[], blockMs: number): Promise<StreamRead> {
    const until = Date.now() + blockMs;
    for (;;) {
      const reads = await Promise.all(feeds.map((f) => this.ctx.redis.xread('COUNT', 1000, 'STREAMS', f.key, f.lastId!) as Promise<StreamRead | null>));
      const found = reads.flatMap((r) => r ?? []).filter(([, entries]) => entries.length > 0);
      if (found.length || this.wakePending || this.closed || Date.now() >= until) return found;
      await sleep(Math.min(POLL_MS, Math.max(1, until - Date.now())));
    }
  }

  private hasWork(): boolean {
    const now = Date.now();
    for (const feed of this.feeds.values()) if (feed.lastId === null || readyAt(feed) <= now) return true;
    return false;
  }

  /** A new feed starts from the newest event now: what came before is in its first snapshot. */
  private async startFeeds(): Promise<void> {
    const fresh = [...this.feeds.values()].filter((f) => f.lastId === null);
    if (fresh.length === 0) return;
    await Promise.all(
      fresh.map(async (feed) => {
        const [last] = await this.ctx.redis.xrevrange(feed.key, '+', '-', 'COUNT', 1);
        feed.lastId = last?.[0] ?? '0-0';
        feed.welcome = new Set(feed.streams);
      }),
    );
  }

  /** Sends a snapshot to every feed that changed (at most every MIN_INTERVAL_MS) or is due, and to new streams. */
  private async refresh(): Promise<void> {
    const now = Date.now();
    const due = [...this.feeds.values()].filter((f) => f.lastId !== null && readyAt(f) <= now);
    await Promise.all(
      due.map(async (feed) => {
        const everyone = (feed.dirty && now - feed.sentAt >= MIN_INTERVAL_MS) || now >= feed.dueAt;
        const to = everyone ? [...feed.streams] : [...feed.welcome];
        feed.welcome.clear();
        if (everyone) feed.dirty = false;
        try {
          const event = await progressSnapshot(this.ctx, feed.alertId, feed.meter);
          if (everyone) {
            feed.sentAt = Date.now();
            feed.dueAt = feed.sentAt + (event.status === 'publishing' ? BLOCK_PUBLISHING_MS : BLOCK_MS);
          }
          const chunk = `id: ${feed.lastId}\nevent: progress\ndata: ${JSON.stringify(event)}\n\n`;
          for (const stream of to) this.send(stream, chunk);
        } catch (err) {
          // The streams wait for the next round; nobody is dropped for a failed read.
          if (everyone) feed.dirty = true;
          else for (const stream of to) if (!stream.closed) feed.welcome.add(stream);
          feed.notBefore = Date.now() + 1000;
          this.ctx.log.warn({ err: (err as Error).message, alertId: feed.alertId }, 'live progress snapshot failed; retrying');
        }
      }),
    );
  }

  private send(stream: OpenStream, chunk: string): void {
    if (stream.closed) return;
    if (stream.sink.buffered > MAX_BUFFERED_BYTES) return this.close(stream);
    try {
      stream.sink.write(chunk);
    } catch {
      this.close(stream);
    }
  }
}
