// What kind of host a bridge target names, in canonical form, or why it names none.

import type { TargetNode } from '../../grammar/ast.ts';
import type { TargetKind } from '../policy.ts';
import { parseIpv4 } from './ipv4.ts';
import { canonicalIpv6 } from './ipv6.ts';
import { invalidDnsName } from './dns-name.ts';

export type ClassifiedTarget =
  | { ok: true; kind: TargetKind; host: string; ipv4?: number }
  | { ok: false; code: string; message: string; hint: string };

export function classifyTarget(target: TargetNode): ClassifiedTarget {
  const written = target.host.value;
  if (target.bracketed) {
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
  // All digits and dots: the author meant an IPv4 address, so judge it as one.
  if (/^[\d.]+$/.test(written)) {
    const parsed = parseIpv4(written);
    if (!parsed.ok) {
      return {
        ok: false,
        code: 'NP230',
        message: `"${written}" is not a valid IPv4 address: ${parsed.reason}.`,
        hint: 'Write four numbers from 0 to 255 without leading zeros, as in "10.0.30.5:8123".',
      };
    }
    return { ok: true, kind: 'ipv4', host: written, ipv4: parsed.value };
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
