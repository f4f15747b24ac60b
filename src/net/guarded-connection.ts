import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { checkAddress, type AddressRange } from './address-policy.js';

// Where the address check is enforced: inside the socket's own name resolution, and again on the
// address the socket actually connected to. A name is resolved once per connection and that very
// answer is checked and used, so DNS rebinding (a public answer for a check, an internal one for
// the connection) has no gap to use. The 'connect' check catches whatever else could lead a
// socket astray (an IP literal, a resolver that skips `lookup`). The agents below attach it to
// each socket the moment it is created, before HTTP can queue a write on it, so it runs before
// the first byte of the request is sent (EventEmitter calls listeners in the order they came).

/** The connection would have gone to an address Tocsin must not reach. */
export class AddressRefused extends Error {
  readonly code = 'TOCSIN_ADDRESS_REFUSED';
  constructor(
    readonly host: string,
    readonly reason: string,
  ) {
    super(`refused ${host}: ${reason}`);
    this.name = 'AddressRefused';
  }
}

/**
 * A `lookup` for net/http that answers only when every address of the name may be reached. A
 * name with one refused address among several is refused whole. `base` is dns.lookup; tests give
 * their own resolver here (it must honour `all: true`).
 */
export function guardedLookup(allowed: readonly AddressRange[], base: LookupFunction = dnsLookup as LookupFunction): LookupFunction {
  return (hostname, options, callback) => {
    base(hostname, { ...options, all: true }, (err, answer, family) => {
      if (err) return callback(err, '', undefined);
      const addresses: LookupAddress[] = Array.isArray(answer) ? answer : [{ address: answer, family: family ?? 0 }];
      if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', undefined);
      for (const { address } of addresses) {
        const verdict = checkAddress(address, allowed);
        if (!verdict.allowed) return callback(new AddressRefused(hostname, verdict.reason), '', undefined);
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

/** Destroys the socket, before anything is written, if it connected to a refused address. */
export function guardConnect(socket: Socket, host: string, allowed: readonly AddressRange[]): void {
  const check = () => {
    const remote = socket.remoteAddress;
    const verdict = remote ? checkAddress(remote, allowed) : { allowed: false as const, reason: 'the socket has no remote address' };
    if (!verdict.allowed) socket.destroy(new AddressRefused(host, verdict.reason));
  };
  if (socket.connecting || !socket.remoteAddress) socket.once('connect', check);
  else check();
}

type ConnectionCallback = (err: Error | null, stream: Duplex) => void;

/** Options shared by the two agents: the ranges the operator opened, and the resolver. */
export interface GuardOptions {
  allowed: readonly AddressRange[];
  lookup: LookupFunction;
}

// No keep-alive: every connection is resolved and checked afresh, and none outlives its fetch.
export class GuardedHttpAgent extends http.Agent {
  constructor(private readonly guard: GuardOptions) {
    super({ keepAlive: false });
  }
  override createConnection(options: http.ClientRequestArgs, callback?: ConnectionCallback): Duplex | null | undefined {
    const socket = super.createConnection({ ...options, lookup: this.guard.lookup }, callback) as Socket;
    guardConnect(socket, String(options.host ?? options.hostname), this.guard.allowed);
    return socket;
  }
}

export class GuardedHttpsAgent extends https.Agent {
  constructor(private readonly guard: GuardOptions) {
    super({ keepAlive: false });
  }
  override createConnection(options: http.ClientRequestArgs, callback?: ConnectionCallback): Duplex | null | undefined {
    const socket = super.createConnection({ ...options, lookup: this.guard.lookup }, callback) as Socket;
    guardConnect(socket, String(options.host ?? options.hostname), this.guard.allowed);
    return socket;
  }
}
