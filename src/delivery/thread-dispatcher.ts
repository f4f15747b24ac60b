import { DeliveryError, type Messenger, type PostedPart, type RenderedMessage, type ThreadPosition } from '../channels/messenger.js';
import { DeadlineExceeded, isDeadlineError, withDeadline } from '../net/deadline.js';
import type { ThreadRecord } from '../store/thread-parts.js';

// The one loop that posts a message to an account, part by part, for every provider: record each
// part as soon as it is accepted, resume after the last recorded part, look up a part whose answer
// was lost, and turn every way it can end into one honest result. Adapters only post one part.

export type ThreadResult =
  | { kind: 'sent'; first: PostedPart; posted: PostedPart[] }
  | { kind: 'failed' | 'unknown'; reason: string; posted: PostedPart[] }
  | { kind: 'retry'; reason: string; retryAt?: number; rateLimited: boolean; posted: PostedPart[] }
  /** The attempt no longer holds the delivery: nothing may be recorded or posted. */
  | { kind: 'lost'; reason: string; posted: PostedPart[] }
  /** Staff halted the alert: the parts not yet posted are not posted. */
  | { kind: 'halted'; reason: string; posted: PostedPart[] };

export interface ThreadRun {
  /** What earlier attempts recorded: parts posted, and a part that may have been in flight. */
  record: ThreadRecord;
  /** Fenced ledger writes: false when this attempt lost the delivery to another. */
  begin(index: number): Promise<boolean>;
  save(index: number, part: PostedPart): Promise<boolean>;
  /** The part surely did not reach the provider (refused, or looked up and absent): forget it was in flight. */
  clear(index: number): Promise<boolean>;
  lease: { valid(): boolean; readonly signal: AbortSignal };
  /** The halt note if staff halted the alert (read before every part), else undefined. */
  halted?(): Promise<string | undefined>;
  /** A follow-up replies to the original thread: its first and last posted parts. */
  anchor?: { root: PostedPart; last: PostedPart };
  idempotencyKey(index: number): string;
}

export async function dispatchThread(messenger: Messenger, message: RenderedMessage, run: ThreadRun): Promise<ThreadResult> {
  const total = message.parts.length;
  const posted = [...run.record.posted];
  // A part that may exist at the provider, and why: an earlier attempt stopped while posting it,
  // its answer was lost in this attempt, or the provider refused it as a duplicate.
  let uncertain = run.record.inflight;
  let why: 'resumed' | 'lost' | 'duplicate' = 'resumed';
  const where = () => (posted.length > 0 ? ` (after ${posted.length} of ${total} parts)` : '');
  const lost = (reason: string): ThreadResult => ({ kind: 'lost', reason, posted });

  while (posted.length < total) {
    const index = posted.length;
    const part = message.parts[index];
    const position: ThreadPosition = {
      index,
      total,
      replyTo: posted[index - 1] ?? run.anchor?.last,
      root: run.anchor?.root ?? posted[0],
      idempotencyKey: run.idempotencyKey(index),
    };
    if (!run.lease.valid()) return lost('the lease ran out before the next part');
    const halt = await run.halted?.();
    if (halt) return { kind: 'halted', reason: `${halt}${where()}`, posted };
    const timed = <T>(what: string, op: (signal: AbortSignal) => Promise<T>) =>
      withDeadline(messenger.partDeadlineMs, op, { signal: run.lease.signal, what: `${what} part ${index + 1} of ${total} on ${messenger.id}` });

    let accepted: PostedPart | null | undefined;
    if (uncertain === index && (!messenger.safeToResend || why === 'duplicate')) {
      accepted = messenger.findPart ? await timed('looking up', (s) => messenger.findPart!(part, position, s)).catch(() => undefined) : undefined;
      const which = total === 1 ? 'the post' : `part ${index + 1} of ${total}`;
      const unposted = total - index - 1;
      const rest =
        unposted === 0 ? '' : `; ${unposted === 1 ? `part ${total} was` : `parts ${index + 2} to ${total} were`} not posted, so the thread does not fork`;
      if (why === 'duplicate' && !accepted) {
        return { kind: 'unknown', reason: `${messenger.provider} refused ${which} as a duplicate, but it was not found on the account${rest}`, posted };
      }
      if (accepted === undefined) {
        const how = messenger.findPart ? 'the look-up failed' : `${messenger.provider} offers no way to look it up`;
        return { kind: 'unknown', reason: `${which} may have been made before its answer was lost, and ${how}${rest}`, posted };
      }
      // Surely absent after a timeout in this attempt: back off before posting it again.
      if (accepted === null && why === 'lost') {
        await run.clear(index);
        return { kind: 'retry', reason: `the provider has no part ${index + 1} after a lost answer`, rateLimited: false, posted };
      }
    }
    if (!accepted) {
      if (!(await run.begin(index))) return lost('another attempt holds this delivery');
      try {
        accepted = await timed('posting', (s) => messenger.postPart(part, position, s));
      } catch (err) {
        if (run.lease.signal.aborted) return lost(`the lease was lost while posting: ${(err as Error).message}`);
        const e = asDeliveryError(err);
        if (e.kind === 'unknown-outcome' || e.options.code === 'duplicate') {
          if (e.kind === 'unknown-outcome' && messenger.safeToResend) return { kind: 'retry', reason: `${e.message}${where()}`, rateLimited: false, posted };
          uncertain = index;
          why = e.options.code === 'duplicate' ? 'duplicate' : 'lost';
          continue;
        }
        // Refused, or never sent: the next attempt posts this part without looking it up first.
        await run.clear(index);
        if (e.kind === 'permanent') return { kind: 'failed', reason: `${e.message}${where()}`, posted };
        return { kind: 'retry', reason: `${e.message}${where()}`, retryAt: e.options.retryAt, rateLimited: e.kind === 'rate-limited', posted };
      }
    }
    if (!(await run.save(index, accepted))) return lost('another attempt holds this delivery');
    posted.push(accepted);
    uncertain = undefined;
  }
  return { kind: 'sent', first: posted[0], posted };
}

/** Anything a provider call threw, in the delivery contract's terms. A deadline is a lost answer. */
export function asDeliveryError(err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (err instanceof DeadlineExceeded || isDeadlineError(err)) return new DeliveryError('unknown-outcome', (err as Error).message);
  const message = err instanceof Error ? err.message : typeof err === 'string' ? err : JSON.stringify(err);
  return new DeliveryError('transient', message || 'unknown error');
}
