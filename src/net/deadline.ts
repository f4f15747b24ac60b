// Deadlines that cannot be lost. `AbortSignal.timeout()` inside `AbortSignal.any()` can be
// garbage-collected before it fires on Node 20 (nodejs/node#57736), and a library may ignore a
// signal altogether. Here the timer is an ordinary `setTimeout`, which the event loop holds until
// it fires or is cleared, and the caller's promise is raced against it, so the deadline holds
// whatever the operation does with its signal.

/** The operation ran past its deadline. `code` matches what Node's network errors use. */
export class DeadlineExceeded extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`${what} did not finish within ${ms} ms`);
    this.name = 'DeadlineExceeded';
  }
}

export interface DeadlineOptions {
  /** Words for the error message: "POST https://bsky.social/xrpc/..." or "SMTP DATA". */
  what?: string;
  /** A caller's signal (job shutdown, an outer deadline): aborting it aborts the operation too. */
  signal?: AbortSignal;
}

/**
 * Runs `operation` with a signal that aborts after `ms` (or when `options.signal` aborts), and
 * rejects with DeadlineExceeded at that moment even if the operation never settles.
 */
export async function withDeadline<T>(ms: number, operation: (signal: AbortSignal) => Promise<T>, options: DeadlineOptions = {}): Promise<T> {
  const controller = new AbortController();
  const what = options.what ?? 'the operation';
  let rejectAtDeadline!: (err: unknown) => void;
  const deadline = new Promise<never>((_, reject) => {
    rejectAtDeadline = reject;
  });
  const abort = (reason: unknown) => {
    if (controller.signal.aborted) return;
    controller.abort(reason);
    rejectAtDeadline(reason);
  };
  const timer = setTimeout(() => abort(new DeadlineExceeded(what, ms)), ms);
  const parent = options.signal;
  const onParentAbort = () => abort(parent?.reason ?? new Error(`${what} was cancelled`));
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  try {
    return await Promise.race([operation(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener('abort', onParentAbort);
  }
}

/** True for the errors a deadline or an abort produces, whichever layer threw them. */
export function isDeadlineError(err: unknown): boolean {
  const e = err as { name?: string; code?: string; cause?: unknown } | undefined;
  if (!e) return false;
  if (e instanceof DeadlineExceeded || e.name === 'TimeoutError' || e.name === 'AbortError') return true;
  return e.cause !== undefined && e.cause !== e && isDeadlineError(e.cause);
}

/** A promise that resolves after `ms`; the timer is held by the event loop like any other. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
