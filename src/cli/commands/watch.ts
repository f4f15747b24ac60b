import type { Redis } from 'ioredis';
import type { Context } from '../../context.js';
import { alertStatus, type AlertStatusReport } from '../../publish/status.js';
import type { ChannelCounts } from '../../store/ledger.js';
import { withContext, fail } from '../runtime.js';
import { formatStatus } from './status-format.js';

// `tocsin status ID --watch`: live progress per channel, read from the alert's event stream (to
// wake up) and its ledger counters (the numbers). Exit 0 when every delivery has an outcome and
// none failed or is unknown, 3 when some did, so scripts can tell.

export const EXIT_PROBLEMS = 3;
const BAR_WIDTH = 30;
const MIN_REDRAW_MS = 100;
const RATE_WINDOW_MS = 10_000;

export interface WatchOptions {
  out?: NodeJS.WriteStream;
  /** Redraw in place (a terminal) or print one line per change (a pipe or a log). */
  tty?: boolean;
  /** One JSON status document per change, then the final one. */
  json?: boolean;
  /** Longest wait for an event before looking at the counters anyway. */
  blockMs?: number;
}

const done = (c: ChannelCounts) => c.sent + c.failed + c.unknown + c.skipped;

/** `[####xx?-......]`: sent, failed, unknown, skipped, then what is still pending; not colour alone. */
export function progressBar(c: ChannelCounts, width = BAR_WIDTH): string {
  if (c.total === 0) return `[${' '.repeat(width)}]`;
  const cells: string[] = [];
  let used = 0;
  let acc = 0;
  for (const [n, ch] of [
    [c.sent, '#'],
    [c.failed, 'x'],
    [c.unknown, '?'],
    [c.skipped, '-'],
  ] as const) {
    acc += n;
    // Cumulative rounding keeps the parts adding up; a non-zero part gets at least one cell.
    const upTo = Math.floor((acc / c.total) * width);
    const cellsFor = Math.max(n > 0 && upTo <= used ? 1 : 0, upTo - used);
    cells.push(ch.repeat(Math.min(cellsFor, width - used)));
    used = Math.min(width, used + cellsFor);
  }
  return `[${cells.join('')}${'.'.repeat(width - used)}]`;
}

const pct = (c: ChannelCounts) => (c.total === 0 ? 0 : Math.floor((done(c) / c.total) * 100));

function channelLine(name: string, c: ChannelCounts): string {
  const tally = `sent ${c.sent}  failed ${c.failed}  unknown ${c.unknown}  skipped ${c.skipped}`;
  const inFlight = c.queued + c.sending + c.retrying > 0 ? `  (queued ${c.queued}, sending ${c.sending}, retrying ${c.retrying})` : '';
  return `${name.padEnd(16)} ${progressBar(c)} ${`${done(c)}/${c.total}`.padStart(13)} ${String(pct(c)).padStart(3)}%  ${tally}${inFlight}`;
}

function stateWords(report: AlertStatusReport): string {
  if (report.complete) return 'complete';
  if (report.publication.state === 'not-started')
    return report.alert.status === 'publishing' ? 'waiting for a worker to start publishing' : `not publishing (status ${report.alert.status})`;
  return report.publication.state === 'fanning-out' ? 'fanning out' : 'delivering';
}

/** Deliveries per second over the last few seconds, and the time left at that rate. */
class RateMeter {
  private samples: Array<{ at: number; done: number }> = [];
  update(report: AlertStatusReport, now = Date.now()): string {
    const d = done(report.counts.totals);
    this.samples.push({ at: now, done: d });
    while (this.samples.length > 2 && now - this.samples[0].at > RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0];
    const seconds = (now - first.at) / 1000;
    if (seconds < 0.5 || report.complete || report.counts.totals.total === 0) return '';
    const rate = (d - first.done) / seconds;
    const left = report.counts.outstanding;
    const eta = rate > 0 ? ` · about ${formatSeconds(left / rate)} left` : '';
    return `${rate.toFixed(rate < 10 ? 1 : 0)} deliveries/s${eta}`;
  }
}

const formatSeconds = (s: number) => (s < 90 ? `${Math.ceil(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);

export function frameLines(report: AlertStatusReport, rate: string): string[] {
  const { alert, counts, publication } = report;
  const fanout = publication.state === 'not-started' ? '' : `  · ${publication.batches} batches, ${publication.recipients} email recipients`;
  const lines = [alert.title, `${alert.id}  ${stateWords(report)}${fanout}`, ''];
  for (const [channel, c] of Object.entries(counts.channels).sort(([a], [b]) => a.localeCompare(b))) lines.push(channelLine(channel, c));
  const channels = Object.keys(counts.channels).length;
  if (channels === 0) lines.push('no deliveries queued yet');
  if (channels > 1) lines.push(channelLine('all', counts.totals));
  lines.push('', `# sent  x failed  ? unknown  - skipped  . pending${rate ? `    ${rate}` : ''}`);
  return lines;
}

/** One line per change, for pipes and logs: the same numbers as the ledger, easy to grep. */
export function plainLine(report: AlertStatusReport, now = new Date()): string {
  const parts = Object.entries(report.counts.channels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([ch, c]) =>
        `${ch} ${done(c)}/${c.total} sent=${c.sent} failed=${c.failed} unknown=${c.unknown} skipped=${c.skipped} pending=${c.queued + c.sending + c.retrying}`,
    );
  return `${now.toISOString()} ${stateWords(report)}${parts.length ? ` | ${parts.join(' | ')}` : ''}`;
}

/** Redraws a block of lines in place: cursor up to the first line, clear and rewrite each line. */
class InPlace {
  private height = 0;
  constructor(private readonly out: NodeJS.WriteStream) {}
  draw(lines: string[]): void {
    const width = this.out.columns || 120;
    let text = this.height > 0 ? `\x1b[${this.height}F` : '';
    for (const line of lines) text += `\x1b[2K${line.length > width - 1 ? `${line.slice(0, width - 2)}…` : line}\n`;
    // A shorter frame than the last one: clear what is left below.
    text += '\x1b[J';
    this.out.write(text);
    this.height = lines.length;
  }
}

const countsKey = (r: AlertStatusReport) => JSON.stringify([r.complete, r.publication.state, r.counts]);

/** Watches until complete; returns the exit code. */
export async function watchStatus(ctx: Context, idOrSlug: string, options: WatchOptions = {}): Promise<number> {
  const out = options.out ?? process.stdout;
  const tty = options.tty ?? Boolean(out.isTTY);
  const alert = await ctx.alerts.require(idOrSlug);
  const stream = ctx.keys.events(alert.id);
  // XREAD BLOCK holds its connection, so it gets its own.
  const reader: Redis = ctx.redis.duplicate();
  reader.on('error', () => {});
  const screen = tty && !options.json ? new InPlace(out) : undefined;
  const meter = new RateMeter();
  const restoreCursor = () => screen && out.write('\x1b[?25h');
  const onSigint = () => {
    restoreCursor();
    out.write('\n');
    process.exit(130);
  };
  process.once('SIGINT', onSigint);
  if (screen) out.write('\x1b[?25l');
  try {
    // Start from the newest event, then read the counters: nothing that happens after is missed.
    const newest = await ctx.redis.xrevrange(stream, '+', '-', 'COUNT', 1);
    let lastId = newest[0]?.[0] ?? '0-0';
    let lastShown = '';
    for (;;) {
      const report = await alertStatus(ctx, alert.id);
      const key = countsKey(report);
      if (key !== lastShown || screen) {
        if (options.json)
          out.write(`${JSON.stringify({ at: new Date().toISOString(), complete: report.complete, publication: report.publication, counts: report.counts })}\n`);
        else if (screen) screen.draw(frameLines(report, meter.update(report)));
        else out.write(`${plainLine(report)}\n`);
        lastShown = key;
      }
      if (report.complete) {
        const final = await alertStatus(ctx, alert.id);
        if (options.json) out.write(`${JSON.stringify(final)}\n`);
        else out.write(`\n${formatStatus(final)}\n`);
        return final.counts.totals.failed + final.counts.totals.unknown > 0 ? EXIT_PROBLEMS : 0;
      }
      const started = Date.now();
      const read = (await reader.xread('COUNT', 1000, 'BLOCK', options.blockMs ?? 1000, 'STREAMS', stream, lastId)) as Array<
        [string, Array<[string, string[]]>]
      > | null;
      const entries = read?.[0]?.[1] ?? [];
      if (entries.length > 0) lastId = entries[entries.length - 1][0];
      // A busy stream wakes us constantly; redraw at most ten times a second.
      const wait = MIN_REDRAW_MS - (Date.now() - started);
      if (wait > 0 && entries.length > 0) await new Promise((r) => setTimeout(r, wait));
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
    restoreCursor();
    reader.disconnect();
  }
}

/** The `status ID --watch` action: opens a context, watches, exits with the code. */
export function watchCommand(id: string, opts: { json?: boolean }): Promise<void> {
  return withContext((ctx) => watchStatus(ctx, id, { json: opts.json }))
    .then((code) => process.exit(code))
    .catch(fail);
}
