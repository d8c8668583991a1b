// Addresses the proxy never connects to, whatever name led there: an allowed name can resolve
// (or be rebound) to loopback, the LAN, the VM subnet, the host itself or the cloud metadata
// address, and a proxy that trusted the DNS answer would become a door to all of them.

import { cidr, cidrContains, type Cidr, type IpBytes } from './ip-address.ts';

// Not on this list, on purpose: the documentation ranges 192.0.2.0/24, 198.51.100.0/24,
// 203.0.113.0/24 and the benchmarking range 198.18.0.0/15 (and 2001:db8::/32). No router on the
// internet carries them, so allowing them opens nothing real, and the test lab uses them as its
// "internet". An owner whose LAN really uses one of them lists it in denyNetworks.
const IPV4_BLOCKS: ReadonlyArray<[Cidr, string]> = ([
  ['0.0.0.0/8', '"this network" (0.0.0.0/8, includes the unspecified address)'],
  ['10.0.0.0/8', 'private (10.0.0.0/8)'],
  ['100.64.0.0/10', 'carrier-grade NAT (100.64.0.0/10)'],
  ['127.0.0.0/8', 'loopback (127.0.0.0/8)'],
  ['169.254.0.0/16', 'link-local (169.254.0.0/16, includes the 169.254.169.254 metadata service)'],
  ['172.16.0.0/12', 'private (172.16.0.0/12)'],
  ['192.0.0.0/24', 'IETF protocol assignments (192.0.0.0/24)'],
  ['192.168.0.0/16', 'private (192.168.0.0/16)'],
  ['224.0.0.0/4', 'multicast (224.0.0.0/4)'],
  ['240.0.0.0/4', 'reserved (240.0.0.0/4, includes the broadcast address 255.255.255.255)'],
] as const).map(([text, what]) => [cidr(text), what]);

const IPV6_BLOCKS: ReadonlyArray<[Cidr, string]> = ([
  ['::/128', 'the unspecified address (::)'],
  ['::1/128', 'loopback (::1)'],
  ['100::/64', 'discard-only (100::/64)'],
  ['64:ff9b:1::/48', 'local-use NAT64 (64:ff9b:1::/48)'],
  ['2001::/32', 'Teredo (2001::/32), which tunnels to an IPv4 address it hides'],
  ['fc00::/7', 'unique local (fc00::/7, the IPv6 private range)'],
  ['fe80::/10', 'link-local (fe80::/10)'],
  ['fec0::/10', 'site-local (fec0::/10)'],
  ['ff00::/8', 'multicast (ff00::/8)'],
] as const).map(([text, what]) => [cidr(text), what]);

// IPv6 forms that carry an IPv4 address the packets really go to (or that a host stack maps to
// one): judge the embedded IPv4 address as if it were written plainly.
const EMBEDDING: ReadonlyArray<[Cidr, number, string]> = [
  [cidr('::ffff:0:0/96'), 12, 'IPv4-mapped'],
  [cidr('::/96'), 12, 'IPv4-compatible'],
  [cidr('64:ff9b::/96'), 12, 'NAT64'],
  [cidr('2002::/16'), 2, '6to4'],
];

// Why the proxy must not connect to this address, or undefined when it may. `own` are the host's
// own addresses (any of them, public ones included).
export function whyRefused(ip: IpBytes, denyNetworks: readonly Cidr[], own: readonly IpBytes[] = []): string | undefined {
  for (const block of denyNetworks) if (cidrContains(block, ip)) return `in a denied network (${block.text})`;
  const blocks = ip.family === 4 ? IPV4_BLOCKS : IPV6_BLOCKS;
  for (const [block, what] of blocks) if (cidrContains(block, ip)) return what;
  if (ip.family === 6) {
    for (const [block, offset, kind] of EMBEDDING) {
      if (!cidrContains(block, ip)) continue;
      const inner: IpBytes = { family: 4, bytes: ip.bytes.slice(offset, offset + 4) };
      const why = whyRefused(inner, denyNetworks, own);
      if (why) return `${kind} IPv6 form of ${inner.bytes.join('.')}, ${why}`;
    }
  }
  // Last, so that 127.0.0.1 is reported as loopback rather than as the host's own.
  if (own.some((o) => o.family === ip.family && o.bytes.every((b, i) => b === ip.bytes[i]))) return 'one of this host\'s own addresses';
  return undefined;
}
