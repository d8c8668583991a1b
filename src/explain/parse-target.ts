// What `explain` was asked about: HOST:PORT (an endpoint), a host alone, or a host path.

import { canonicalIpv6 } from '../net/ipv6.ts';
import { parseIpv4 } from '../net/ipv4.ts';
import type { Packet } from './layer.ts';

export type ExplainTarget =
  | { kind: 'endpoint'; host: Packet['dst']; port: number }
  | { kind: 'host'; host: Packet['dst'] }
  | { kind: 'path'; path: string };

// Reads the TARGET argument; a string is why it is none of the three.
export function parseExplainTarget(text: string): ExplainTarget | string {
  if (text.startsWith('/') || text === '~' || text.startsWith('~/') || text.startsWith('./') || text.startsWith('../')) return { kind: 'path', path: text };
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    const v6 = canonicalIpv6(bracketed[1]!);
    if (v6 === undefined) return `"${bracketed[1]}" is not an IPv6 address`;
    return withPort({ kind: 'ipv6', text: v6 }, bracketed[2]);
  }
  const v6 = canonicalIpv6(text);
  if (v6 !== undefined) return { kind: 'host', host: { kind: 'ipv6', text: v6 } };
  const m = /^([^:\s]+)(?::(\d*))?$/.exec(text);
  if (!m) return `"${text}" is not HOST:PORT, a host name or a path`;
  const host = m[1]!;
  const v4 = parseIpv4(host);
  if (v4.ok) return withPort({ kind: 'ipv4', value: v4.value, text: host }, m[2]);
  if (/^[0-9.]+$/.test(host)) return `"${host}" is not an IPv4 address (${v4.reason})`;
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(host)) return `"${host}" is not a host name`;
  return withPort({ kind: 'name', text: host.toLowerCase().replace(/\.$/, '') }, m[2]);
}

function withPort(host: Packet['dst'], port: string | undefined): ExplainTarget | string {
  if (port === undefined) return { kind: 'host', host };
  const n = Number(port);
  if (port === '' || !Number.isInteger(n) || n < 1 || n > 65535) return `the port "${port}" is not a number from 1 to 65535`;
  return { kind: 'endpoint', host, port: n };
}
