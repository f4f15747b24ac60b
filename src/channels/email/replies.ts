import { isDeadlineError } from '../../net/deadline.js';

// What an SMTP failure means beyond "permanent or not": whether the address itself does not exist
// (a hard bounce under the bounce policy), and whether the server could not be talked to at all
// (what trips the circuit breaker), as opposed to a reply about one message.

/**
 * 550/551/553 with an enhanced status of 5.1.x (bad mailbox, bad domain, bad address syntax), or
 * a reply that says the user is unknown: the address does not exist, and mailing it again only
 * harms the sender's reputation. 5.7.x (policy) and 5.2.x (mailbox full or disabled) are not.
 */
export function isUnknownRecipient(reply: { responseCode?: number; response?: string } | undefined): boolean {
  const code = reply?.responseCode;
  const text = reply?.response ?? '';
  if (!code || code < 500 || code >= 600) return false;
  if (/\b5\.1\.(?:0|1|2|3|6|10)\b/.test(text)) return true;
  if (/\b5\.[2-7]\.\d+\b/.test(text)) return false;
  return (
    (code === 550 || code === 551 || code === 553) &&
    /user unknown|unknown user|no such (?:user|mailbox|recipient)|does not exist|mailbox (?:not found|unavailable)|recipient rejected|invalid recipient/i.test(
      text,
    )
  );
}

/** No SMTP reply at all: a timeout, a refused or dropped connection, a TLS or DNS failure. */
export function isConnectionFailure(err: unknown): boolean {
  const e = err as { code?: string; responseCode?: number } | undefined;
  if (typeof e?.responseCode === 'number') return false;
  if (isDeadlineError(err)) return true;
  return /^(?:ETIMEDOUT|ECONNECTION|ECONNREFUSED|ECONNRESET|ESOCKET|EDNS|ETLS|EPIPE|EHOSTUNREACH|ENETUNREACH|EAFTERDATA|EPROTOCOL)$/.test(e?.code ?? '');
}
