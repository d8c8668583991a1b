// What a secret's bytes may be once read: one line of printable ASCII, long enough that masking it
// in a response cannot mask ordinary text.

/** Shorter secrets would make the response scrubber rewrite common words (why: every occurrence of the value is masked in what the VM receives). */
export const MIN_SECRET_LENGTH = 8;
export const MAX_SECRET_LENGTH = 8192;

// The value from a source's output (one final newline dropped), or what is wrong with it. The
// problem never quotes the value.
export function checkedSecretValue(raw: Buffer): { ok: true; value: string } | { ok: false; problem: string } {
  let end = raw.length;
  if (end > 0 && raw[end - 1] === 0x0a) end--;
  if (end > 0 && raw[end - 1] === 0x0d) end--;
  const bytes = raw.subarray(0, end);
  if (bytes.length === 0) return { ok: false, problem: 'is empty' };
  if (bytes.length > MAX_SECRET_LENGTH) return { ok: false, problem: `is longer than ${MAX_SECRET_LENGTH} bytes` };
  // Why printable ASCII only: the value goes into a header line (CR, LF or NUL would end or split
  // it) and is searched for byte for byte in responses (one encoding, one form to find).
  for (const byte of bytes) {
    if (byte < 0x21 || byte > 0x7e) {
      if (byte === 0x0a || byte === 0x0d) return { ok: false, problem: 'holds more than one line' };
      if (byte !== 0x20) return { ok: false, problem: 'holds a byte that is not printable ASCII' };
    }
  }
  if (bytes[0] === 0x20 || bytes[bytes.length - 1] === 0x20) return { ok: false, problem: 'starts or ends with a space' };
  if (bytes.length < MIN_SECRET_LENGTH) return { ok: false, problem: `is shorter than ${MIN_SECRET_LENGTH} characters` };
  return { ok: true, value: bytes.toString('latin1') };
}
