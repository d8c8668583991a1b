// IPv6 target addresses: validated by Node's own parser and printed in canonical form (RFC 5952).

import { isIPv6 } from 'node:net';

// Canonical lowercase compressed text of an IPv6 address, or undefined when it is not one.
export function canonicalIpv6(text: string): string | undefined {
  if (!isIPv6(text) || text.includes('%')) return undefined;
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

// Why an IPv6 target cannot be a bridge target, or undefined when it can.
export function unroutableIpv6(canonical: string): string | undefined {
  if (canonical === '::') return 'the unspecified address (::)';
  if (canonical === '::1') return 'loopback (::1): the host itself, which the bridges must not expose';
  const first = parseInt(canonical.split(':')[0] || '0', 16);
  if ((first & 0xff00) === 0xff00) return 'multicast (ff00::/8)';
  if ((first & 0xffc0) === 0xfe80) return 'link-local (fe80::/10), which needs an interface';
  if (canonical.startsWith('::ffff:')) return 'an IPv4-mapped address (::ffff:0:0/96): write the IPv4 address instead';
  return undefined;
}
