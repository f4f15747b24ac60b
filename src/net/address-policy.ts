import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

// Which IP addresses a URL taken from an alert may reach. The ranges come from ipaddr.js (the
// address library Express and Fastify use for trust-proxy: maintained, IANA special-purpose
// registries for both families); the rules on top are Tocsin's:
// - IPv4 must be ordinary unicast (not loopback, RFC 1918, CGNAT, link-local, multicast,
//   broadcast, unspecified, documentation, benchmarking or otherwise reserved).
// - IPv6 must be global unicast (2000::/3) and not special-purpose. Forms that carry an IPv4
//   address (mapped ::ffff:a.b.c.d, translated ::ffff:0:a.b.c.d, compatible ::a.b.c.d, NAT64
//   64:ff9b::/96, 6to4 2002::/16) are judged by the IPv4 address inside them; local-use NAT64
//   (64:ff9b:1::/48) and Teredo, whose inner address cannot be read safely, are refused.
// - Cloud metadata services are refused always, even inside an allowed private range.
// ipaddr.js alone calls ::7f00:1 (IPv4-compatible loopback) "unicast"; the 2000::/3 rule and the
// unwrapping above are why this file does more than `range() !== 'unicast'`.

type Address = ipaddr.IPv4 | ipaddr.IPv6;
export type AddressRange = [Address, number];

/** Metadata endpoints of cloud providers: never reachable, whatever is allowed. */
const METADATA: AddressRange[] = [
  '169.254.169.254/32', // AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack...
  '169.254.170.2/32', // AWS ECS task credentials
  '169.254.0.23/32', // Tencent Cloud
  '100.100.100.200/32', // Alibaba Cloud
  '192.0.0.192/32', // Oracle Cloud (classic)
  'fd00:ec2::/32', // AWS over IPv6 (fd00:ec2::254 and the DNS/NTP services beside it)
].map((cidr) => ipaddr.parseCIDR(cidr));

/** The only refused ranges `allowPrivateAddresses` can open; link-local, multicast and the like stay shut. */
const OPENABLE = new Set(['loopback', 'private', 'carrierGradeNat', 'uniqueLocal']);

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

/** Parses "127.0.0.1/32", "fd00::/8" or a bare address (a one-address range). Throws on anything else. */
export function parseAddressRange(text: string): AddressRange {
  const trimmed = text.trim();
  if (isIP(trimmed)) {
    const address = ipaddr.parse(trimmed);
    return [address, address.kind() === 'ipv4' ? 32 : 128];
  }
  const slash = trimmed.indexOf('/');
  if (slash < 0 || !isIP(trimmed.slice(0, slash)) || !/^\d{1,3}$/.test(trimmed.slice(slash + 1))) {
    throw new Error(`"${text}" is not an address or a CIDR range such as 127.0.0.1/32`);
  }
  const range = ipaddr.parseCIDR(trimmed);
  if (range[1] === 0) throw new Error(`"${text}" would allow every address`);
  return range;
}

/** The IPv4 address carried inside an IPv6 one, for the forms listed at the top of this file. */
function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4 | 'opaque' | undefined {
  const p = address.parts;
  const fromWords = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  const zeros = (from: number, to: number) => p.slice(from, to).every((w) => w === 0);
  if (zeros(0, 5) && p[5] === 0xffff) return fromWords(p[6], p[7]); // ::ffff:a.b.c.d (mapped)
  if (zeros(0, 4) && p[4] === 0xffff && p[5] === 0) return fromWords(p[6], p[7]); // ::ffff:0:a.b.c.d (translated)
  if (zeros(0, 6) && (p[6] !== 0 || p[7] > 1)) return fromWords(p[6], p[7]); // ::a.b.c.d (compatible; not :: or ::1)
  if (p[0] === 0x64 && p[1] === 0xff9b && zeros(2, 6)) return fromWords(p[6], p[7]); // 64:ff9b::a.b.c.d (NAT64)
  if (p[0] === 0x64 && p[1] === 0xff9b && p[2] === 1) return 'opaque'; // local-use NAT64, any prefix length
  if (p[0] === 0x2002) return fromWords(p[1], p[2]); // 2002:aabb:ccdd:: (6to4)
  if (p[0] === 0x2001 && p[1] === 0) return 'opaque'; // Teredo: the client address is obfuscated
  return undefined;
}

function inAny(address: Address, ranges: readonly AddressRange[]): boolean {
  return ranges.some(([base, bits]) => base.kind() === address.kind() && address.match(base, bits));
}

/**
 * May a connection go to `text` (an address as the resolver or the socket reports it)?
 * `allowed` are the operator's `fetch.allowPrivateAddresses` ranges.
 */
export function checkAddress(text: string, allowed: readonly AddressRange[] = []): AddressVerdict {
  if (!isIP(text)) return { allowed: false, reason: `"${text}" is not an IP address` };
  const address: Address = ipaddr.parse(text);
  if (address.kind() === 'ipv6') {
    const inner = embeddedIPv4(address as ipaddr.IPv6);
    if (inner === 'opaque') return { allowed: false, reason: `${text} is a tunnelled address (${(address as ipaddr.IPv6).range()})` };
    if (inner) {
      const verdict = checkAddress(inner.toString(), allowed);
      return verdict.allowed ? verdict : { allowed: false, reason: `${text} carries ${inner.toString()}: ${verdict.reason}` };
    }
  }
  if (inAny(address, METADATA)) return { allowed: false, reason: `${text} is a cloud metadata address` };
  const range = address.range();
  const globalUnicast = address.kind() === 'ipv4' || address.match(ipaddr.parseCIDR('2000::/3'));
  if (range === 'unicast' && globalUnicast) return { allowed: true };
  if (OPENABLE.has(range) && inAny(address, allowed)) return { allowed: true };
  return { allowed: false, reason: `${text} is ${range === 'unicast' ? 'not a global unicast address' : `a ${range} address`}` };
}
