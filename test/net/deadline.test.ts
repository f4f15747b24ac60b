import { describe, expect, it } from 'vitest';
import { DeadlineExceeded, isDeadlineError, withDeadline } from '../../src/net/deadline.js';

describe('withDeadline', () => {
  it('rejects at the deadline even when the operation ignores its signal and never settles', async () => {
    let sawAbort = false;
    const started = Date.now();
    const err = await withDeadline(
      50,
      (signal) => {
        signal.addEventListener('abort', () => (sawAbort = true));
        return new Promise<never>(() => {});
      },
      { what: 'a request that never answers' },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadlineExceeded);
    expect((err as Error).message).toBe('a request that never answers did not finish within 50 ms');
    expect(isDeadlineError(err)).toBe(true);
    expect(sawAbort).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('passes results and errors through untouched and clears its timer', async () => {
    await expect(withDeadline(10_000, async () => 42)).resolves.toBe(42);
    await expect(withDeadline(10_000, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  });

  it("aborts with the caller's signal", async () => {
    const outer = new AbortController();
    const pending = withDeadline(10_000, () => new Promise<never>(() => {}), { signal: outer.signal });
    outer.abort(new Error('shutting down'));
    await expect(pending).rejects.toThrow('shutting down');
  });
});
