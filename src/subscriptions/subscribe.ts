import type { Context } from '../context.js';
import { maskEmail, type Subscriber } from '../domain/subscriber.js';
import { signToken } from '../tokens.js';
import { addressHash, ipSubject, keyedHash } from './keyed-hash.js';
import { hit } from './rate-limit.js';
import { isSuppressed } from './suppression.js';
import { expirePending, newGeneration, savePending, scheduleExpiry, type ConsentSource } from './pending.js';
import type { BackgroundTasks } from './background.js';
import type { SubscriptionMailer } from './mailer.js';
import type { SubscribeInput } from './input.js';

export const ACCEPTED_MESSAGE =
  'Thank you. If this address can receive our alerts, we have sent it an email with a link to confirm. Nothing is sent to you until you confirm.';

const publicBase = (ctx: Pick<Context, 'config'>) => ctx.config.http.publicUrl.replace(/\/+$/, '');

/**
 * The subscribe path. `accept` runs while the client waits and does the same work for every
 * address: count the request against the per-IP and per-address limits, queue it. Everything
 * that depends on whether the address is known (lookup, record, confirmation mail) runs in
 * `process`, after the response is sent, so neither the response nor its timing can tell a new
 * address from a pending, confirmed or suppressed one.
 */
export class Subscriptions {
  private lastSweep = 0;

  constructor(
    private readonly ctx: Context,
    private readonly mailer: SubscriptionMailer,
    private readonly tasks: BackgroundTasks,
  ) {}

  /** Per-IP limit; counted before the body is even validated. The IP is stored only as a keyed hash. */
  async limitIp(ip: string): Promise<void> {
    await hit(
      this.ctx,
      'ip',
      keyedHash(this.ctx.secret, 'rate-ip', ipSubject(ip)),
      this.ctx.config.subscriptions.rateLimits.perIp,
      'too many subscription requests from your network',
    );
  }

  async accept(input: SubscribeInput, source: ConsentSource): Promise<void> {
    await hit(
      this.ctx,
      'addr',
      addressHash(this.ctx.secret, 'rate-address', input.email),
      this.ctx.config.subscriptions.rateLimits.perAddress,
      'too many subscription requests for this address',
    );
    if (input.trapped) return;
    this.tasks.add(() => this.process(input, source));
  }

  /** Deletes expired unconfirmed records now and then; any process may do it. */
  async sweep(now = Date.now()): Promise<void> {
    if (now - this.lastSweep < 30_000) return;
    this.lastSweep = now;
    const n = await expirePending(this.ctx, now);
    if (n > 0) this.ctx.log.info({ deleted: n }, 'expired unconfirmed subscriptions deleted');
  }

  async process(input: SubscribeInput, source: ConsentSource): Promise<void> {
    const { ctx } = this;
    const cfg = ctx.config.subscriptions;
    await this.sweep();
    const existing = await ctx.subscribers.getByEmail(input.email);
    if (await mayNotBeMailed(ctx, input.email, existing)) return;
    // At most one confirmation mail per address per window: the form cannot be used to mail-bomb.
    const windowKey = ctx.keys.confirmationSent(addressHash(ctx.secret, 'confirm-window', input.email));
    if ((await ctx.redis.set(windowKey, '1', 'EX', cfg.confirmationWindowS, 'NX')) !== 'OK') return;

    let id: number;
    let isPendingRecord: boolean;
    if (existing) {
      id = existing.id;
      isPendingRecord = existing.status === 'pending';
    } else {
      const created = await ctx.subscribers.create({
        email: input.email,
        countries: input.countries,
        minLevel: input.minLevel,
        status: 'pending',
        language: input.language,
        consentSource: source,
        formVersion: cfg.formVersion,
      });
      id = created.id;
      isPendingRecord = true;
    }
    const now = Date.now();
    const g = newGeneration();
    await savePending(ctx, id, {
      g,
      countries: input.countries,
      minLevel: input.minLevel,
      language: input.language,
      source,
      formVersion: cfg.formVersion,
      requestedAt: Math.floor(now / 1000),
    });
    if (isPendingRecord) await scheduleExpiry(ctx, id, now);
    const token = signToken(ctx.secret, { p: 'confirm', s: id, e: Math.floor(now / 1000) + cfg.pendingExpiryS, g });
    try {
      await this.mailer.send({
        kind: 'confirm',
        to: input.email,
        countries: input.countries,
        minLevel: input.minLevel,
        language: input.language,
        confirmUrl: `${publicBase(ctx)}/subscribe/confirm/${token}`,
        expiresInS: cfg.pendingExpiryS,
      });
    } catch (err) {
      // Let the person ask again at once rather than wait out the window for a mail that never left.
      await ctx.redis.del(windowKey);
      ctx.log.warn({ recipient: maskEmail(input.email), err: (err as Error).message }, 'confirmation email could not be sent');
    }
  }
}

/**
 * Whether the form may not mail this address, not even to confirm. An address that bounced or
 * complained is dead or hostile; an address on the suppression list without a record was erased
 * (or bounced before it ever subscribed). Only a person who unsubscribed may come back through a
 * fresh confirmation: their record says `unsubscribed`, and confirming lifts the suppression.
 * Runs after the response, so the answer is the same either way.
 */
async function mayNotBeMailed(ctx: Context, email: string, existing: Subscriber | null): Promise<boolean> {
  if (existing) return existing.status === 'bounced' || existing.status === 'complained';
  return isSuppressed(ctx, email);
}
