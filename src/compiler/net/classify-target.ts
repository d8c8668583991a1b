// What kind of host a bridge target names, in canonical form, or why it names none.

import type { TargetNode } from '../../grammar/ast.ts';
import type { TargetKind } from '../policy.ts';
import { formatIpv4, parseIpv4 } from '../../net/ipv4.ts';
import { inetAton, isIpv4Spelling } from '../../net/inet-aton.ts';
import { canonicalIpv6 } from '../../net/ipv6.ts';
import { invalidDnsName } from '../../net/dns-name.ts';

export type ClassifiedTarget =
  | { ok: true; kind: TargetKind; host: string; ipv4?: number }
  | { ok: false; code: string; message: string; hint: string };

export function classifyTarget(target: TargetNode): ClassifiedTarget {
  const written = target.host.value;
  if (target.bracketed) {
    if (written.includes('%')) {
      return {
        ok: false,
        code: 'NP231',
        message: `"[${written}]" carries a zone id ("%${written.split('%').slice(1).join('%')}"), which names an interface of this host, not a host on the LAN.`,
        hint: 'Write a global or unique-local IPv6 address without "%", as in "[2001:db8::5]:443".',
      };
    }
    const canonical = canonicalIpv6(written);
    if (canonical === undefined) {
      return {
        ok: false,
        code: 'NP231',
        message: `"[${written}]" is not a valid IPv6 address.`,
        hint: 'Write an IPv6 address in brackets, as in "[2001:db8::5]:443".',
      };
    }
    return { ok: true, kind: 'ipv6', host: canonical };
  }
  const strict = parseIpv4(written);
  if (strict.ok) return { ok: true, kind: 'ipv4', host: written, ipv4: strict.value };
  // Hex, octal, fewer than four parts, a trailing dot: the C library reads these as an address,
  // so they must never pass as a host name (a "name" 0x7f000001 is the host's own loopback).
  if (isIpv4Spelling(written)) {
    const value = inetAton(written) ?? inetAton(written.slice(0, -1))!;
    return {
      ok: false,
      code: 'NP234',
      message: `"${written}" is the IPv4 address ${formatIpv4(value)} in a spelling the C library reads as one (hex, octal, fewer than four parts or a trailing dot).`,
      hint: `Write the address in dotted decimal, four numbers from 0 to 255 without leading zeros, as in "${formatIpv4(value)}".`,
    };
  }
  // All digits and dots: the author meant an IPv4 address, so judge it as one.
  if (/^[\d.]+$/.test(written)) {
    return {
      ok: false,
      code: 'NP230',
      message: `"${written}" is not a valid IPv4 address: ${strict.reason}.`,
      hint: 'Write four numbers from 0 to 255 without leading zeros, as in "10.0.30.5:8123".',
    };
  }
  const problem = invalidDnsName(written);
  if (problem) {
    return {
      ok: false,
      code: 'NP232',
      message: `"${written}" is not a valid host name: ${problem}.`,
      hint: 'Write a DNS name of letters, digits, "-" and dots, as in "vault.example.org", or an address.',
    };
  }
  return { ok: true, kind: 'dns', host: written.toLowerCase() };
}
