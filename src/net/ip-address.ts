// IP addresses and CIDR blocks as bytes (4 for IPv4, 16 for IPv6), so one containment test covers
// both families and IPv4 embedded in IPv6 can be unwrapped and judged as IPv4.

import { isIPv4, isIPv6 } from 'node:net';

export interface IpBytes { family: 4 | 6; bytes: Uint8Array }
export interface Cidr { family: 4 | 6; bytes: Uint8Array; prefix: number; text: string }

// The bytes of a canonical textual address (what the resolver returns), or undefined.
// Only strict dotted-quad IPv4 is accepted here: resolvers never answer in other spellings.
export function parseIp(text: string): IpBytes | undefined {
  if (isIPv4(text)) return { family: 4, bytes: Uint8Array.from(text.split('.').map(Number)) };
  if (!isIPv6(text) || text.includes('%')) return undefined;
  return { family: 6, bytes: ipv6Bytes(text) };
}

// Expands IPv6 text (already checked by isIPv6) into 16 bytes; a dotted IPv4 tail becomes two groups.
function ipv6Bytes(text: string): Uint8Array {
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  let hex = text;
  if (tail.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    hex = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [left = '', right] = hex.split('::');
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const l = groups(left);
  const r = right === undefined ? [] : groups(right);
  const all = [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  const out = new Uint8Array(16);
  all.forEach((g, i) => { out[2 * i] = g >> 8; out[2 * i + 1] = g & 0xff; });
  return out;
}

// Parses "address/prefix" (or a bare address, as a single host), or says what is wrong.
export function parseCidr(text: string): Cidr | string {
  const [addr = '', prefixText, extra] = text.split('/');
  if (extra !== undefined) return `"${text}" has more than one "/"`;
  const ip = parseIp(addr);
  if (!ip) return `"${addr}" is not an IPv4 or IPv6 address`;
  const max = ip.family === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^(0|[1-9]\d{0,2})$/.test(prefixText)) return `"${prefixText}" is not a prefix length`;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return `the prefix /${prefix} is longer than ${max}`;
  const bytes = maskBytes(ip.bytes, prefix);
  if (!bytes.every((b, i) => b === ip.bytes[i])) return `"${text}" has host bits set below its /${prefix} prefix`;
  return { family: ip.family, bytes, prefix, text: `${addr}/${prefix}` };
}

// The address with every bit past `prefix` cleared.
function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  return bytes.map((b, i) => {
    const bits = Math.max(0, Math.min(8, prefix - 8 * i));
    return b & ((0xff << (8 - bits)) & 0xff);
  });
}

// Whether the address lies inside the block (same family only: callers unwrap embedded IPv4 first).
export function cidrContains(cidr: Cidr, ip: IpBytes): boolean {
  if (cidr.family !== ip.family) return false;
  const masked = maskBytes(ip.bytes, cidr.prefix);
  return masked.every((b, i) => b === cidr.bytes[i]);
}

// Builds a block from trusted literal text; throws on a typo in our own tables.
export function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (typeof parsed === 'string') throw new Error(`bad built-in block ${text}: ${parsed}`);
  return parsed;
}
