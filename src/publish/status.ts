import type { Context } from '../context.js';
import type { Alert } from '../domain/alert.js';
import { maskEmail } from '../domain/subscriber.js';
import type { AlertCounts } from '../store/ledger.js';
import type { PublicationState } from '../store/publications.js';
import { EMAIL_CHANNEL } from './rendered.js';
import { deliveryId, parseDeliveryChannel } from '../delivery/delivery-channel.js';
import type { Halt } from '../store/halts.js';
import { fanOutOver } from './halt.js';
import { probeRedisWrites, redisWriteProblem } from '../store/redis-writes.js';

export interface DeliveryProblem {
  channel: string;
  /** Masked address for email, account id otherwise. */
  target: string;
  state: string;
  error: string;
  attempts: number;
  at: string;
}

export interface AlertStatusReport {
  alert: Pick<Alert, 'id' | 'slug' | 'title' | 'status' | 'level' | 'countries'> & { publishedAt?: string };
  publication: PublicationState;
  /** The fan-out of each follow-up (correction or retraction), by version. */
  followUps: Array<PublicationState & { version: number }>;
  /** Set while the alert is halted. */
  halt: Halt | null;
  /** True once fan-out finished and every delivery has an outcome. */
  complete: boolean;
  counts: AlertCounts;
  problems: DeliveryProblem[];
  /** Conditions that hold deliveries back right now: Redis refusing writes, a channel paused. */
  warnings: string[];
}

/** The one status document shared by the API, the CLI and the console. */
export async function alertStatus(ctx: Context, idOrSlug: string, problemLimit = 20): Promise<AlertStatusReport> {
  let alert = await ctx.alerts.require(idOrSlug);
  const [publication, counts, problems, writes, health, halt, versionCount] = await Promise.all([
    ctx.publications.get(alert.id),
    ctx.ledger.counts(alert.id),
    ctx.ledger.problems(alert.id, problemLimit),
    probeRedisWrites(ctx.redis, ctx.keys),
    ctx.health.all(),
    ctx.halts.get(alert.id),
    ctx.versions.count(alert.id),
  ]);
  // Each version's fan-out (the alert, then each follow-up) must be done, or kept from starting
  // by a halt (a halted fan-out under way still records the rest of its list as skipped).
  const followUps = await Promise.all(
    Array.from({ length: Math.max(0, versionCount - 1) }, (_, i) => ctx.publications.get(deliveryId(alert.id, i + 2)).then((p) => ({ version: i + 2, ...p }))),
  );
  const complete = fanOutOver(1, publication.state, halt) && followUps.every((f) => fanOutOver(f.version, f.state, halt)) && counts.outstanding === 0;
  const warnings: string[] = [];
  const redisProblem = redisWriteProblem(writes);
  if (redisProblem) warnings.push(redisProblem);
  if (halt) warnings.push(`halted by ${halt.by} at ${halt.at}: ${halt.reason}`);
  if (!complete) {
    for (const channel of Object.keys(counts.channels).sort()) {
      const until = health[channel]?.pausedUntil;
      if (until && Date.parse(until) > Date.now()) warnings.push(`${channel} is paused until ${until}: ${health[channel].pauseReason ?? 'failing'}`);
    }
  }
  // The last outcome and the move to `published` are two steps; if a worker died between them (or
  // has not got there yet), finishing here is safe and keeps status and counts in agreement.
  if (complete && alert.status === 'publishing' && writes.ok) {
    await ctx.publications.finishIfComplete(alert.id);
    alert = await ctx.alerts.require(alert.id);
  }
  const masked = await Promise.all(
    problems.map(async (p) => {
      if (parseDeliveryChannel(p.channel).channel !== EMAIL_CHANNEL) return p.target;
      const sub = await ctx.subscribers.get(Number(p.target));
      return sub ? maskEmail(sub.email) : `subscriber #${p.target} (erased)`;
    }),
  );
  return {
    alert: {
      id: alert.id,
      slug: alert.slug,
      title: alert.title,
      status: alert.status,
      level: alert.level,
      countries: alert.countries,
      ...(alert.publishedAt ? { publishedAt: alert.publishedAt } : {}),
    },
    publication,
    followUps,
    halt,
    complete,
    counts,
    problems: problems.map((p, i) => ({
      channel: p.channel,
      target: parseDeliveryChannel(p.channel).channel === EMAIL_CHANNEL ? masked[i] : p.channel,
      state: p.entry.state,
      error: p.entry.error ?? '',
      attempts: p.entry.attempts,
      at: new Date(p.entry.updatedAt).toISOString(),
    })),
    warnings,
  };
}
