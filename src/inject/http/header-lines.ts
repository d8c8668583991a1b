// Reading one HTTP/1.1 header block (RFC 9112 §5) strictly: CRLF line ends only, no obs-fold, names
// that are tokens, values without control characters. Shared by requests and responses.

import { refusal, type Refusal } from './refusal.ts';

export type HeaderList = Array<[name: string, value: string]>;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: visible ASCII, SP, HTAB and obs-text; no CTL (why: a NUL or a lone CR in a value is
// read differently by different servers).
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

// Whether the text holds a CR not followed by LF, or an LF not preceded by CR. (`text` is latin1.)
export function hasBareCrOrLf(text: string): boolean {
  for (let i = text.indexOf('\r'); i !== -1; i = text.indexOf('\r', i + 1)) if (text[i + 1] !== '\n') return true;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) if (i === 0 || text[i - 1] !== '\r') return true;
  return false;
}

// The header lines (no start line, no final empty line), each "name: value", as a list.
export function parseHeaderLines(lines: readonly string[]): HeaderList | Refusal {
  const out: HeaderList = [];
  for (const line of lines) {
    if (line.startsWith(' ') || line.startsWith('\t')) return refusal('obs-fold', 'a header line is folded onto the one before (obs-fold)');
    const colon = line.indexOf(':');
    if (colon <= 0) return refusal('bad-header', 'a header line has no name and colon');
    const name = line.slice(0, colon);
    // Whitespace before the colon is refused (RFC 9112 §5.1): servers disagree on what it means.
    if (!TOKEN.test(name)) return refusal('bad-header', `"${printable(name)}" is not a header name`);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (BAD_VALUE.test(value)) return refusal('bad-header', `the header "${name}" holds a control character`);
    out.push([name, value]);
  }
  return out;
}

// Every value of a header, by name (case-insensitive).
export function headerValues(headers: HeaderList, name: string): string[] {
  const lower = name.toLowerCase();
  return headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

// Text safe to put in a reason: printable ASCII, at most 40 characters.
export function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 40 ? `${clean.slice(0, 37)}...` : clean;
}
