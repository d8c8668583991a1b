// Host names as the proxy accepts them: DNS names only. Any spelling an address parser could
// read as an IP (dotted, hex, octal, short forms like "127.1", one big number, brackets, colons)
// is refused, because a name rule must never be satisfied by an address in disguise.

import { lowerCase } from '../lower-case.ts';

// Lowercases and drops one trailing dot ("Example.COM." and "example.com" are the same name).
// A name already in lower case is not copied (lowerCase).
export function normaliseName(name: string): string {
  const lower = lowerCase(name);
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

// Whether text is, or could be read by inet_aton / WHATWG URL / getaddrinfo as, an IP address.
// WHATWG's "ends in a number" rule: if the last label is decimal or 0x-hex, the host is parsed as
// IPv4 ("0x7f.1", "2130706433", "0177.0.0.1" all mean 127.0.0.1); anything with ":" or "[" is IPv6.
export function looksLikeIpLiteral(text: string): boolean {
  if (text.includes(':') || text.includes('[') || text.includes(']')) return true;
  // The last label, after one trailing dot is dropped, read in place: no array of every label and
  // no copy of the last one (a compile checks each of 10,000 names this way, issue 9).
  const end = text.endsWith('.') ? text.length - 1 : text.length;
  const start = text.lastIndexOf('.', end - 1) + 1;
  return endsInNumber(text, start, end);
}

// Whether text[start, end) is /^(\d+|0x[0-9a-f]*)$/i: decimal digits, or "0x" and hex digits.
function endsInNumber(text: string, start: number, end: number): boolean {
  if (start >= end) return false;
  const hex = end - start >= 2 && text.charCodeAt(start) === 0x30 && (text.charCodeAt(start + 1) | 0x20) === 0x78;
  for (let i = hex ? start + 2 : start; i < end; i++) {
    const c = text.charCodeAt(i);
    const digit = c >= 0x30 && c <= 0x39;
    const hexLetter = (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66;
    if (!digit && !(hex && hexLetter)) return false;
  }
  return true;
}

/** At most 253 characters; two or more labels of 1–63 letters, digits and "-", none at a label's ends. */
const PLAIN_NAME = /^(?=.{1,253}$)(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+(?!-)[a-z0-9-]{1,63}(?<!-)$/;

// Why a normalised name is not a DNS host name the proxy will look up, or undefined when it is one.
export function invalidHostName(name: string): string | undefined {
  // Most names pass every label rule below: one test for those, and the one rule it leaves out.
  if (PLAIN_NAME.test(name)) return looksLikeIpLiteral(name) ? 'it is an IP address, not a name' : undefined;
  if (name.length === 0) return 'it is empty';
  if (looksLikeIpLiteral(name)) return 'it is an IP address, not a name';
  if (name.length > 253) return 'it is longer than 253 characters';
  const labels = name.split('.');
  // A single label ("localhost", "intranet") is a local name, never an internet service.
  if (labels.length < 2) return 'it has a single label; write a full name such as "api.example.com"';
  for (const label of labels) {
    if (label.length === 0) return 'it has an empty label (two dots in a row, or a dot at an end)';
    if (label.length > 63) return `a label is longer than 63 characters`;
    if (!/^[a-z0-9-]+$/.test(label)) return `the label "${printable(label)}" holds a character other than letters, digits and "-"`;
    if (label.startsWith('-') || label.endsWith('-')) return `the label "${label}" starts or ends with "-"`;
  }
  return undefined;
}

// A short, printable rendering of untrusted text for reasons and logs.
export function printable(text: string, max = 80): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
