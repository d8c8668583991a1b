// Text that came from the VM, made safe to print and to hand to JSON consumers: control characters,
// escape sequences and bidirectional overrides become visible `\u{…}` escapes, so a hostile VM cannot
// move the cursor, erase a FAIL row, recolour the table or reorder what the owner reads.

/** C0 and C1 controls, DEL, bidi embeddings/overrides/isolates, zero-width and BOM characters. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/gu;

/** Longest string kept from the VM; a row is one line in a table, not a payload. */
export const MAX_VM_TEXT = 500;

// The string with every unsafe character spelled out and its length bounded.
export function sanitizeText(text: string): string {
  const safe = text.replace(UNSAFE, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
  return safe.length > MAX_VM_TEXT ? `${safe.slice(0, MAX_VM_TEXT - 1)}…` : safe;
}

// Whether the string holds anything sanitizeText would change (besides its length).
export function hasUnsafeText(text: string): boolean {
  return UNSAFE_ONE.test(text);
}

const UNSAFE_ONE = new RegExp(UNSAFE.source, 'u');
