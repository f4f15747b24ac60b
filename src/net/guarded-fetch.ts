import type { IncomingMessage } from 'node:http';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { checkAddress, parseAddressRange, type AddressRange } from './address-policy.js';
import { DeadlineExceeded, withDeadline } from './deadline.js';
import { GuardedFetchError, type FetchFailure } from './fetch-error.js';
import { AddressRefused, GuardedHttpAgent, GuardedHttpsAgent, guardedLookup } from './guarded-connection.js';
import { SNIFF_BYTES, sniffType, type SniffedType } from './sniff.js';

// The one way Tocsin fetches a URL that came from an alert (the lead image, attachments). Alert
// content is attacker-controlled, so the fetch must not become a way into the network Tocsin runs
// in (Redis, the cloud metadata service, admin panels) nor a way to exhaust the worker.
//
// Built on node:http/https with agents whose sockets resolve through a checking `lookup` and are
// checked again on connect (src/net/guarded-connection.ts), not on global fetch: undici's own
// `connect` hook would need the undici package beside Node's bundled copy (undici 8 needs Node
// >= 22.19, and we run on Node 20 too), and node:http exposes the lookup and the socket directly.
// request-filtering-agent does the same with agents, but treats every address ipaddr.js calls
// "unicast" as public (::7f00:1, IPv4-compatible loopback, passes) and lets an allow-list open
// metadata addresses; the address rules here (src/net/address-policy.ts) are stricter.
//
// Each hop of a redirect is checked the same way; the body is streamed against a byte cap and
// its type is read from its first bytes; the whole fetch has a deadline (withDeadline) and each
// socket an idle timeout.

/** The `fetch` section of the config (all optional here; the schema gives the defaults). */
export interface FetchSettings {
  /**
   * Private ranges that may be reached anyway ("127.0.0.1/32"): loopback, RFC 1918, CGNAT and
   * unique-local only. For tests and closed networks; set from the config file, never from an alert.
   */
  allowPrivateAddresses?: readonly string[];
  /** Redirects followed before giving up; each one is checked like the first URL. */
  maxRedirects?: number;
  /** A connection that stays silent this long (connecting or reading) is dropped. */
  idleTimeoutMs?: number;
}

/** Test-only seam at the resolver boundary (the edge, not Tocsin's logic): every answer is still checked. */
export interface FetchSeams {
  lookup?: LookupFunction;
}

export interface FetchRequest {
  /** Words for the public reason: "could not fetch the image". */
  what: 'image' | 'attachment';
  /** Types the caller takes, as read from the bytes. */
  accept: readonly SniffedType[];
  /** The body may not be longer; the download stops as soon as it is. */
  maxBytes: number;
  /** For the whole fetch, redirects included. */
  deadlineMs: number;
  /** The job's own signal (shutdown). */
  signal?: AbortSignal;
}

export interface Fetched {
  bytes: Buffer;
  /** Read from the bytes. */
  mediaType: SniffedType;
  /** Where the bytes came from, after redirects. */
  url: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EAI_FAIL']);

/** A failure inside one fetch, before it is given its public words. */
class Failure extends Error {
  constructor(
    readonly failure: FetchFailure,
    message: string,
    readonly transient = false,
  ) {
    super(message);
  }
}

/** The idle timeout of one socket passed. */
class IdleTimeout extends Error {
  constructor(ms: number) {
    super(`no data for ${ms} ms`);
  }
}

export class GuardedFetcher {
  readonly maxRedirects: number;
  readonly idleTimeoutMs: number;
  private readonly allowed: readonly AddressRange[];
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(settings: FetchSettings = {}, seams: FetchSeams = {}) {
    this.allowed = Object.freeze((settings.allowPrivateAddresses ?? []).map(parseAddressRange));
    this.maxRedirects = settings.maxRedirects ?? 3;
    this.idleTimeoutMs = settings.idleTimeoutMs ?? 10_000;
    const guard = { allowed: this.allowed, lookup: guardedLookup(this.allowed, seams.lookup) };
    this.httpAgent = new GuardedHttpAgent(guard);
    this.httpsAgent = new GuardedHttpsAgent(guard);
    Object.freeze(this);
  }

  /** Fetches `url`; throws GuardedFetchError, whose message is safe to show to staff. */
  async fetch(url: string, request: FetchRequest): Promise<Fetched> {
    try {
      return await withDeadline(request.deadlineMs, (signal) => this.follow(url, request, signal), {
        what: `fetching the ${request.what}`,
        signal: request.signal,
      });
    } catch (err) {
      throw publicError(err, request);
    }
  }

  private async follow(url: string, request: FetchRequest, signal: AbortSignal): Promise<Fetched> {
    let target = this.checkUrl(url);
    for (let redirects = 0; ; redirects++) {
      const { response, problem } = await this.get(target, request, signal);
      try {
        const status = response.statusCode ?? 0;
        if (REDIRECTS.has(status)) {
          response.destroy();
          const location = response.headers.location;
          if (!location) throw new Failure('status', `HTTP ${status} without a Location from ${target.host}`);
          if (redirects >= this.maxRedirects) throw new Failure('too-many-redirects', `more than ${this.maxRedirects} redirects (last ${target.href})`);
          target = this.checkUrl(new URL(location, target).href);
          continue;
        }
        if (status < 200 || status > 299) {
          response.destroy();
          throw new Failure('status', `HTTP ${status} from ${target.href}`, status >= 500 || status === 408 || status === 429);
        }
        return await this.readBody(response, target, request, signal);
      } catch (err) {
        // A socket error (refused on connect, idle) explains a stream error better than the stream can.
        throw err instanceof Failure ? err : (problem() ?? err);
      }
    }
  }

  /** An http(s) URL without credentials; an address literal is checked here, before any socket. */
  private checkUrl(text: string): URL {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new Failure('invalid-url', `not a URL: ${text.slice(0, 200)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Failure('invalid-url', `${url.protocol} URLs are not fetched`);
    if (url.username || url.password) throw new Failure('invalid-url', 'the URL carries credentials');
    // The WHATWG parser has already turned 2130706433, 0177.0.0.1, 0x7f.1 and 127.1 into 127.0.0.1.
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (!host) throw new Failure('invalid-url', 'the URL has no host');
    if (isIP(host)) {
      const verdict = checkAddress(host, this.allowed);
      if (!verdict.allowed) throw new AddressRefused(host, verdict.reason);
    }
    return url;
  }

  /** One GET, up to the response head. `problem()` tells a socket-level cause a later error hides. */
  private get(url: URL, request: FetchRequest, signal: AbortSignal): Promise<{ response: IncomingMessage; problem: () => Error | undefined }> {
    return new Promise((resolve, reject) => {
      let problem: Error | undefined;
      const client = url.protocol === 'https:' ? https : http;
      const req = client.request(url, {
        agent: url.protocol === 'https:' ? this.httpsAgent : this.httpAgent,
        signal,
        timeout: this.idleTimeoutMs,
        headers: { accept: request.accept.join(', '), 'accept-encoding': 'identity', 'user-agent': 'Tocsin (alert media fetch)' },
      });
      req.on('socket', (socket) => {
        socket.once('error', (err) => {
          problem ??= err;
        });
      });
      req.on('timeout', () => {
        problem ??= new IdleTimeout(this.idleTimeoutMs);
        req.destroy(problem);
      });
      req.once('response', (response) => resolve({ response, problem: () => problem }));
      req.once('error', (err) => reject(problem ?? err));
      req.end();
    });
  }

  /** Streams the body; never holds more than `maxBytes` plus one chunk. */
  private async readBody(response: IncomingMessage, url: URL, request: FetchRequest, signal: AbortSignal): Promise<Fetched> {
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > request.maxBytes) {
      response.destroy();
      throw new Failure('too-large', `Content-Length ${declared} > ${request.maxBytes} from ${url.href}`);
    }
    const stop = () => response.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', stop, { once: true });
    const chunks: Buffer[] = [];
    let total = 0;
    let mediaType: SniffedType | undefined;
    const sniff = () => {
      const head = Buffer.concat(chunks).subarray(0, SNIFF_BYTES);
      const found = sniffType(head);
      if (!found || !request.accept.includes(found)) {
        const declaredType = String(response.headers['content-type'] ?? 'none');
        throw new Failure('wrong-type', `the bytes are ${found ?? 'of no accepted type'} (Content-Type: ${declaredType.slice(0, 100)}) from ${url.href}`);
      }
      return found;
    };
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > request.maxBytes) throw new Failure('too-large', `more than ${request.maxBytes} bytes from ${url.href}`);
        chunks.push(chunk);
        // Decide on the type as soon as it can be read, so an HTML page is not downloaded whole.
        if (!mediaType && total >= SNIFF_BYTES) mediaType = sniff();
      }
      mediaType ??= sniff();
      return { bytes: Buffer.concat(chunks, total), mediaType, url: url.href };
    } finally {
      signal.removeEventListener('abort', stop);
      response.destroy();
    }
  }
}

/** Gives any failure its public words and its transient flag; the real reason stays in `detail`. */
function publicError(err: unknown, request: FetchRequest): GuardedFetchError {
  if (err instanceof GuardedFetchError) return err;
  const notFetched = `could not fetch the ${request.what}`;
  const make = (failure: FetchFailure, detail: string, transient: boolean) => {
    const words =
      failure === 'too-large'
        ? `the ${request.what} is larger than ${request.maxBytes} bytes`
        : failure === 'wrong-type'
          ? `the ${request.what} is not one of ${request.accept.join(', ')}`
          : notFetched;
    return new GuardedFetchError(failure, words, detail, transient);
  };
  const refused = findCause(err, (e) => e instanceof AddressRefused);
  if (refused) return make('refused', refused.message, false);
  if (err instanceof Failure) return make(err.failure, err.message, err.transient);
  if (err instanceof DeadlineExceeded) return make('timeout', err.message, true);
  const idle = findCause(err, (e) => e instanceof IdleTimeout);
  if (idle) return make('timeout', `idle timeout: ${idle.message}`, true);
  if (request.signal?.aborted) return make('network', 'cancelled by the caller', true);
  const e = err as { code?: string; message?: string } | undefined;
  const coded = findCause(err, (c) => typeof (c as { code?: unknown }).code === 'string') as (Error & { code: string }) | undefined;
  const code = coded?.code ?? e?.code;
  const detail = `${code ?? 'error'}: ${coded?.message ?? e?.message ?? String(err)}`;
  return make('network', detail, code !== undefined && TRANSIENT_CODES.has(code));
}

function findCause(err: unknown, test: (e: Error) => boolean): Error | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) if (test(e)) return e;
  return undefined;
}
