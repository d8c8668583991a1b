// IPv6 target addresses: validated by Node's own parser and printed in canonical form (RFC 5952).

import { lazyNet } from '../lazy-builtins.ts';

// Canonical lowercase compressed text of an IPv6 address, or undefined when it is not one.
export function canonicalIpv6(text: string): string | undefined {
  if (!text.includes(':') || !lazyNet().isIPv6(text) || text.includes('%')) return undefined;
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

// Why an IPv6 target cannot be a bridge target, or undefined when it can.
export function unroutableIpv6(canonical: string): string | undefined {
  if (canonical === '::') return 'the unspecified address (::)';
  if (canonical === '::1') return 'loopback (::1): the host itself, which the bridges must not expose';
  const first = parseInt(canonical.split(':')[0] || '0', 16);
  if ((first & 0xff00) === 0xff00) return 'multicast (ff00::/8)';
  if ((first & 0xffc0) === 0xfe80) return 'link-local (fe80::/10), which needs an interface';
  if ((first & 0xffc0) === 0xfec0) return 'site-local (fec0::/10), deprecated and routed nowhere';
  // Forms that carry an IPv4 address inside: the IPv4 rules (loopback, the VM subnet …) must judge
  // that address, so the policy writes it as IPv4.
  const groups = expandIpv6(canonical);
  const zero = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  if (zero(0, 5) && groups[5] === 0xffff) return 'an IPv4-mapped address (::ffff:0:0/96): write the IPv4 address instead';
  if (zero(0, 4) && groups[4] === 0xffff && groups[5] === 0) return 'an IPv4-translated address (::ffff:0:0:0/96): write the IPv4 address instead';
  if (zero(0, 6)) return 'an IPv4-compatible address (::/96, deprecated): write the IPv4 address instead';
  if (groups[0] === 0x64 && groups[1] === 0xff9b) return 'a NAT64 address (64:ff9b::/96 or 64:ff9b:1::/48): write the IPv4 address instead';
  if (groups[0] === 0x2002) return 'a 6to4 address (2002::/16) carrying an IPv4 address: write the IPv4 address instead';
  return undefined;
}

// The eight 16-bit groups of a valid IPv6 address.
function expandIpv6(text: string): number[] {
  const [head = '', tail] = text.split('::');
  const part = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}
