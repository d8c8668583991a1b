// Masks every occurrence of a secret in a byte stream, across chunk boundaries, without holding
// back more than it must: only a tail that could still become a secret waits for the next chunk.
// (A server-sent event ends in "\n\n", which starts no secret, so events are never delayed.)

/** The byte each secret byte becomes: same length, so Content-Length and frame lengths stay true. */
const MASK = 0x2a; // '*'
const EMPTY = Buffer.alloc(0);

export class SecretScrubber {
  private held: Buffer = Buffer.alloc(0);
  private readonly longest: number;

  constructor(private readonly needles: readonly Buffer[]) {
    this.longest = needles.reduce((m, n) => Math.max(m, n.length), 0);
    this.firstBytes = new Set(needles.map((n) => n[0]!));
  }

  private readonly firstBytes: Set<number>;

  // The bytes that can be released now, masked; a possible start of a secret is kept back.
  push(chunk: Buffer): Buffer {
    if (this.needles.length === 0) return chunk;
    let data = this.held.length ? Buffer.concat([this.held, chunk]) : chunk;
    // Copied only when a secret is in it: the caller's buffer is never written to, and the common
    // case (no secret) costs a search and no copy.
    let copied = this.held.length > 0;
    for (const needle of this.needles) {
      for (let i = data.indexOf(needle); i !== -1; i = data.indexOf(needle, i + needle.length)) {
        if (!copied) {
          data = Buffer.from(data);
          copied = true;
        }
        data.fill(MASK, i, i + needle.length);
      }
    }
    const keep = this.partialTail(data);
    this.held = keep === 0 ? EMPTY : Buffer.from(data.subarray(data.length - keep));
    return data.subarray(0, data.length - keep);
  }

  // Whatever was kept back (it held no whole secret): at the end of a message or stream.
  flush(): Buffer {
    const out = this.held;
    this.held = Buffer.alloc(0);
    return out;
  }

  // The length of the longest suffix of data that is a proper prefix of some needle.
  private partialTail(data: Buffer): number {
    for (let k = Math.min(this.longest - 1, data.length); k > 0; k--) {
      // Most tails start with a byte no secret starts with: skipped without a comparison.
      if (!this.firstBytes.has(data[data.length - k]!)) continue;
      const tail = data.subarray(data.length - k);
      if (this.needles.some((n) => n.length > k && n.subarray(0, k).equals(tail))) return k;
    }
    return 0;
  }
}

// The forms of a secret a reflecting server might send back: as is, JSON-escaped, percent-encoded.
export function secretNeedles(values: Iterable<string>): Buffer[] {
  const forms = new Set<string>();
  for (const value of values) {
    forms.add(value);
    forms.add(JSON.stringify(value).slice(1, -1));
    forms.add(encodeURIComponent(value));
    forms.add(JSON.stringify(value).slice(1, -1).replace(/\//g, '\\/'));
  }
  return [...forms].map((f) => Buffer.from(f, 'latin1'));
}
