// Another nanopolicy cage on the same subnet. vmnet gives every VM on a Mac one shared subnet and
// gateway, and pf evaluates the anchors under com.apple/ one after the other (domain.md §4b): the
// first VM's anchor ends with `block return in quick from <subnet>`, so it blocks the second VM's
// bridge and DHCP traffic before the second anchor is read. Until rules are keyed on each VM's own
// address, a second cage on an overlapping subnet is refused (enforce) and reported (verify).

import { inCidr, parseIpv4, type Cidr4 } from '../net/ipv4.ts';
import { NANOPOLICY_ANCHOR } from '../formats/pf-anchor-name.ts';

// The nanopolicy anchors in `pfctl -a com.apple -s Anchors` output ("  com.apple/NAME" lines).
export function nanopolicyAnchors(listing: string): string[] {
  return listing
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => NANOPOLICY_ANCHOR.test(l));
}

// Parses "a.b.c.d" or "a.b.c.d/n" as a prefix.
export function parseCidr4(text: string): Cidr4 | undefined {
  const [addr, len, extra] = text.split('/');
  if (extra !== undefined || addr === undefined) return undefined;
  const ip = parseIpv4(addr);
  const prefix = len === undefined ? 32 : /^\d{1,2}$/.test(len) ? Number(len) : NaN;
  if (!ip.ok || !(prefix >= 0 && prefix <= 32)) return undefined;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { network: (ip.value & mask) >>> 0, prefix };
}

// Whether two prefixes share an address.
export function cidrsOverlap(a: Cidr4, b: Cidr4): boolean {
  return inCidr(a.network, b) || inCidr(b.network, a);
}

// The addresses and prefixes a printed anchor names that lie in `subnet` (none: no overlap).
export function addressesInSubnet(printedRules: string, subnet: string): string[] {
  const ours = parseCidr4(subnet);
  if (ours === undefined) return [];
  const out = new Set<string>();
  for (const token of printedRules.match(/\b\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?\b/g) ?? []) {
    const c = parseCidr4(token);
    if (c !== undefined && cidrsOverlap(c, ours)) out.add(token);
  }
  return [...out];
}
