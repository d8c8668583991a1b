// The CONNECT request target ("host:port") as a name and a port, or why it names neither.

import { invalidHostName, looksLikeIpLiteral, normaliseName, printable } from '../net/host-name.ts';

export type ConnectTarget = { ok: true; name: string; port: number } | { ok: false; reason: string; name: string; port: number };

// Authority form only (RFC 9110 §9.3.6): no scheme, no userinfo, no path, a port always.
export function parseConnectTarget(target: string): ConnectTarget {
  const colon = target.lastIndexOf(':');
  const hostPart = colon < 0 ? target : target.slice(0, colon);
  const portText = colon < 0 ? '' : target.slice(colon + 1);
  const port = /^[1-9]\d{0,4}$/.test(portText) ? Number(portText) : 0;
  const shown = printable(hostPart, 253);
  if (target.startsWith('[') || hostPart.includes(':')) return { ok: false, reason: 'IP address, not a name', name: shown, port };
  if (colon < 0) return { ok: false, reason: 'CONNECT target has no port', name: shown, port: 0 };
  if (port < 1 || port > 65535) return { ok: false, reason: `"${printable(portText, 10)}" is not a port from 1 to 65535`, name: shown, port: 0 };
  const name = normaliseName(hostPart);
  // Checked before the DNS rules so that "0x7f.1" and "2130706433" say what they are.
  if (looksLikeIpLiteral(name)) return { ok: false, reason: 'IP address, not a name', name: shown, port };
  const problem = invalidHostName(name);
  if (problem) return { ok: false, reason: `not a valid DNS name: ${problem}`, name: printable(name, 253), port };
  return { ok: true, name, port };
}
