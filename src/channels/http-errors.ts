import { DeliveryError } from './messenger.js';

/** Seconds or an HTTP date, as Retry-After allows; returns an epoch ms or undefined. */
export function retryAfterToEpochMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return now + Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : date;
}

/** The usual meaning of an HTTP status for a delivery: 429 wait, 5xx/408 retry, other 4xx give up. */
export function deliveryErrorForStatus(status: number, reason: string, retryAt?: number): DeliveryError {
  if (status === 429) return new DeliveryError('rate-limited', reason, { status, retryAt: retryAt ?? Date.now() + 60_000 });
  if (status >= 500 || status === 408) return new DeliveryError('transient', reason, { status });
  return new DeliveryError('permanent', reason, { status, credentials: status === 401 || status === 403 });
}

/**
 * Errors thrown by fetch: a refused or reset connection never reached the provider (transient);
 * an abort or timeout after the request was written may have (unknown outcome).
 */
export function deliveryErrorForNetwork(err: unknown, sentRequest: boolean): DeliveryError {
  const e = (err ?? {}) as { name?: string; message?: string; code?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code;
  const reason = `${code ?? e.name ?? 'error'}: ${e.cause?.message ?? errorText(err)}`;
  const neverSent = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'UND_ERR_CONNECT_TIMEOUT';
  if (neverSent || !sentRequest) return new DeliveryError('transient', reason, { code });
  return new DeliveryError('unknown-outcome', reason, { code });
}

/** A readable message for anything thrown: never "[object Object]". */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'string') return err;
  const e = err as { message?: unknown; code?: unknown } | null;
  if (e && typeof e.message === 'string') return e.message;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}
