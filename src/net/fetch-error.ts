// How a guarded fetch fails. Two reasons travel with every failure: `detail` says what really
// happened (for the logs only: it may name internal addresses and ports), `publicReason` is what
// staff, the ledger and the API see. The public words never depend on where the URL led, so an
// alert cannot be used to map the network behind Tocsin: an internal address, a closed port and
// a 404 all read "could not fetch the image".

export type FetchFailure =
  /** The URL or a redirect led to an address Tocsin must not reach. Never transient. */
  | 'refused'
  /** Not an http(s) URL, credentials in it, no host... */
  | 'invalid-url'
  | 'too-many-redirects'
  /** The server answered with a status other than 2xx (after redirects). */
  | 'status'
  /** Name resolution, connection, TLS, or the connection dropped. */
  | 'network'
  /** The deadline or the idle timeout passed. */
  | 'timeout'
  | 'too-large'
  /** The bytes are not one of the types the caller takes (whatever the Content-Type said). */
  | 'wrong-type';

export class GuardedFetchError extends Error {
  /** A later try may succeed (5xx, timeout, reset on a public address). */
  readonly transient: boolean;

  constructor(
    readonly failure: FetchFailure,
    /** Words for staff and the ledger; also the error's message, so a careless log leaks nothing. */
    readonly publicReason: string,
    /** The real reason, for the logs. */
    readonly detail: string,
    transient: boolean,
  ) {
    super(publicReason);
    this.name = 'GuardedFetchError';
    this.transient = transient && failure !== 'refused';
  }
}
