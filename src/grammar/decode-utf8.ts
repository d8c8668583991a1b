// Policy bytes to text, strictly: a byte sequence that is not UTF-8 is an error at its line, never a
// U+FFFD that would make two different files read (and hash) alike or put "?" into a share path.

import { isUtf8 } from 'node:buffer';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';

export interface Decoded {
  /** The text, when every line is UTF-8. */
  source?: string;
  diagnostics: Diagnostic[];
}

// Decodes a whole file, reporting every line that holds bytes that are not UTF-8.
export function decodeUtf8(bytes: Uint8Array, file: string): Decoded {
  if (isUtf8(bytes)) return { source: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'), diagnostics: [] };
  const diagnostics: Diagnostic[] = [];
  let line = 1;
  let start = 0;
  // CR and LF never occur inside a multi-byte UTF-8 sequence, so lines can be cut on bytes.
  for (let i = 0; i <= bytes.length; i++) {
    const b = bytes[i];
    if (i < bytes.length && b !== 0x0a && b !== 0x0d) continue;
    const text = bytes.subarray(start, i);
    const bad = firstInvalidUtf8(text);
    if (bad >= 0) {
      const column = Buffer.from(text.subarray(0, bad)).toString('utf8').length + 1;
      const shown = [...text.subarray(bad, bad + 4)].map((x) => x.toString(16).padStart(2, '0')).join(' ');
      diagnostics.push({
        severity: 'error',
        code: 'NP104',
        message: `Line ${line} holds bytes that are not UTF-8 (${shown}…).`,
        file,
        line,
        column,
        endColumn: column + 1,
        hint: 'Save the policy as UTF-8; a path with other bytes cannot be told apart from one with "?" in it.',
      });
    }
    if (b === 0x0d && bytes[i + 1] === 0x0a) i++;
    start = i + 1;
    line++;
  }
  return { diagnostics };
}

// Index of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629: no
// overlongs, no surrogates, nothing above U+10FFFF), or -1 when all of it is UTF-8.
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const need = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (need === 0) return i;
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    const second = b[i + 1];
    if (second === undefined || second < lo || second > hi) return i;
    for (let k = 2; k <= need; k++) if (((b[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += need + 1;
  }
  return -1;
}
