// The lab's address plan and the guard that keeps every lab packet on never-routed addresses.
//
// Why a guard: the lab is linked to nothing, but a test that points a probe at 1.1.1.1 or 10.x would
// still be wrong (domain.md §7). Every address the lab assigns, binds or targets passes through
// assertLabAddress, so such a test throws before a single packet is sent.

import { BlockList, isIP } from 'node:net';

/** The ranges a lab address may come from (TEST-NETs, benchmarking, IPv6 documentation, the VM side). */
export const LAB_RANGES: ReadonlyArray<{ network: string; prefix: number; family: 4 | 6; why: string }> = [
  { network: '192.0.2.0', prefix: 24, family: 4, why: 'TEST-NET-1' },
  { network: '198.51.100.0', prefix: 24, family: 4, why: 'TEST-NET-2 (the LAN)' },
  { network: '203.0.113.0', prefix: 24, family: 4, why: 'TEST-NET-3 (the internet)' },
  { network: '198.18.0.0', prefix: 15, family: 4, why: 'benchmarking' },
  { network: '192.168.64.0', prefix: 24, family: 4, why: 'the VM side, inside the lab only' },
  { network: '2001:db8::', prefix: 32, family: 6, why: 'IPv6 documentation' },
];

/** Where everything sits. The VM address is configurable per lab; the rest is fixed. */
export const PLAN = {
  vmSide: {
    subnet: '192.168.64.0/24',
    gateway: '192.168.64.1',
    vm: '192.168.64.2',
    subnet6: '2001:db8:64::/64',
    gateway6: '2001:db8:64::1',
    vm6: '2001:db8:64::2',
  },
  lan: {
    subnet: '198.51.100.0/24',
    host: '198.51.100.1',
    /** Addresses held by the lan namespace: "vault" and "home assistant". */
    services: ['198.51.100.10', '198.51.100.11'],
    subnet6: '2001:db8:100::/64',
    host6: '2001:db8:100::1',
    services6: ['2001:db8:100::10', '2001:db8:100::11'],
  },
  wan: {
    subnet: '203.0.113.0/24',
    host: '203.0.113.1',
    /** The host's default route points here; nothing listens on it unless a test starts something. */
    upstream: '203.0.113.2',
    web: '203.0.113.10',
    dns: '203.0.113.53',
    subnet6: '2001:db8:113::/64',
    host6: '2001:db8:113::1',
    upstream6: '2001:db8:113::2',
    web6: '2001:db8:113::10',
    dns6: '2001:db8:113::53',
  },
} as const;

const ranges = LAB_RANGES.map((r) => {
  const list = new BlockList();
  list.addSubnet(r.network, r.prefix, r.family === 4 ? 'ipv4' : 'ipv6');
  return { ...r, list };
});

// True when `address` is a plain IPv4/IPv6 literal inside one of LAB_RANGES.
export function isLabAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return ranges.some((r) => r.family === family && r.list.check(address, family === 4 ? 'ipv4' : 'ipv6'));
}

// Throws unless `address` is a lab address; returns it so calls can be inlined.
export function assertLabAddress(address: string, what = 'address'): string {
  if (!isLabAddress(address)) {
    throw new Error(
      `Lab ${what} "${address}" is outside the lab ranges (${LAB_RANGES.map((r) => `${r.network}/${r.prefix}`).join(', ')}); ` +
        'tests may send packets only to never-routed lab addresses.',
    );
  }
  return address;
}

// Like assertLabAddress, but also accepts the wildcard addresses a listener may bind (it sends nothing).
export function assertLabBindAddress(address: string): string {
  if (address === '0.0.0.0' || address === '::') return address;
  return assertLabAddress(address, 'bind address');
}

// Throws unless `cidr` ("a.b.c.d/n") lies wholly inside one lab range.
export function assertLabPrefix(cidr: string): string {
  const [network, bits, extra] = cidr.split('/');
  const prefix = Number(bits);
  const family = isIP(network ?? '');
  const inside =
    extra === undefined &&
    network !== undefined &&
    family !== 0 &&
    Number.isInteger(prefix) &&
    prefix <= (family === 4 ? 32 : 128) &&
    ranges.some((r) => r.family === family && prefix >= r.prefix && r.list.check(network, family === 4 ? 'ipv4' : 'ipv6'));
  if (!inside) throw new Error(`Lab prefix "${cidr}" is not wholly inside one lab range.`);
  return cidr;
}
