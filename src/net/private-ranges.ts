// The VM network must be private address space (RFC 1918): any other range either belongs to
// someone on the internet (the VM would shadow it for the host) or has a meaning of its own
// (loopback, multicast, link-local) that a vmnet bridge would break.

import { inCidr, parseIpv4, prefixMask, type Cidr4 } from './ipv4.ts';

const cidr = (address: string, prefix: number): Cidr4 => {
  const parsed = parseIpv4(address);
  if (!parsed.ok) throw new Error(`bad built-in range ${address}`);
  return { network: parsed.value, prefix };
};

export const RFC1918: readonly Cidr4[] = [cidr('10.0.0.0', 8), cidr('172.16.0.0', 12), cidr('192.168.0.0', 16)];

// Special ranges by name, for a message that says what the subnet is instead (RFC 6890).
const SPECIAL: ReadonlyArray<{ range: Cidr4; what: string }> = [
  { range: cidr('0.0.0.0', 8), what: '"this network" (0.0.0.0/8)' },
  { range: cidr('127.0.0.0', 8), what: 'loopback (127.0.0.0/8)' },
  { range: cidr('169.254.0.0', 16), what: 'link-local (169.254.0.0/16)' },
  { range: cidr('224.0.0.0', 4), what: 'multicast (224.0.0.0/4)' },
  { range: cidr('240.0.0.0', 4), what: 'reserved (240.0.0.0/4)' },
  { range: cidr('100.64.0.0', 10), what: 'carrier-grade NAT space (100.64.0.0/10)' },
  { range: cidr('198.18.0.0', 15), what: 'benchmarking space (198.18.0.0/15)' },
  { range: cidr('192.0.0.0', 24), what: 'IETF protocol space (192.0.0.0/24)' },
  { range: cidr('192.0.2.0', 24), what: 'documentation space (192.0.2.0/24)' },
  { range: cidr('198.51.100.0', 24), what: 'documentation space (198.51.100.0/24)' },
  { range: cidr('203.0.113.0', 24), what: 'documentation space (203.0.113.0/24)' },
];

// True when the whole subnet lies inside one RFC 1918 range.
export function isPrivateSubnet(subnet: Cidr4): boolean {
  return RFC1918.some((r) => subnet.prefix >= r.prefix && inCidr(subnet.network, r));
}

// What a non-private subnet is, in words: a special range it touches, or else public space.
export function describeNonPrivate(subnet: Cidr4): string {
  const last = (subnet.network | (~prefixMask(subnet.prefix) >>> 0)) >>> 0;
  const touched = SPECIAL.find(({ range }) => inCidr(subnet.network, range) || inCidr(last, range) || (subnet.prefix <= range.prefix && inCidr(range.network, subnet)));
  if (touched) return touched.what;
  if (RFC1918.some((r) => inCidr(r.network, subnet))) return 'wider than the private range it overlaps';
  return 'public address space that belongs to someone on the internet';
}
