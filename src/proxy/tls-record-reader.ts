// Splits a TLS byte stream into records as it arrives, looking at every byte once whatever the
// chunking: a hello sent one byte per TCP segment, or in one-byte records, costs O(n), never a
// re-read from the start per chunk (which let one 60 KB hello burn seconds of CPU).

/** What a record visitor is told; each handler may stop the reading with a reason. */
export interface RecordVisitor {
  /** A record header: content type, version (e.g. 0x0303) and fragment length. */
  header(type: number, version: number, length: number): string | undefined;
  /** Part of the current record's fragment, in order; the parts add up to its length. */
  fragment(piece: Buffer): string | undefined;
  /** The current record ended. */
  end(): string | undefined;
}

// RFC 8446 §5.1: a plaintext fragment is at most 2^14 bytes; §5.2 lets ciphertext be 256 longer.
export const MAX_RECORD = 16384 + 256;

export class TlsRecordReader {
  private readonly head = Buffer.alloc(5);
  private headHave = 0;
  /** Bytes of the current record's fragment still to come; -1 between records. */
  private left = -1;
  /** Records whose header was read so far. */
  records = 0;

  // Feeds the next chunk; returns the first reason a visitor gave, and reads nothing after it.
  read(chunk: Buffer, visit: RecordVisitor): string | undefined {
    let at = 0;
    while (at < chunk.length) {
      if (this.left < 0) {
        const take = Math.min(5 - this.headHave, chunk.length - at);
        chunk.copy(this.head, this.headHave, at, at + take);
        this.headHave += take;
        at += take;
        if (this.headHave < 5) return undefined;
        this.headHave = 0;
        this.records++;
        const length = this.head.readUInt16BE(3);
        const stop = visit.header(this.head[0]!, this.head.readUInt16BE(1), length);
        if (stop) return stop;
        this.left = length;
        if (length === 0) {
          this.left = -1;
          const ended = visit.end();
          if (ended) return ended;
        }
        continue;
      }
      const take = Math.min(this.left, chunk.length - at);
      const stop = visit.fragment(chunk.subarray(at, at + take));
      if (stop) return stop;
      at += take;
      this.left -= take;
      if (this.left === 0) {
        this.left = -1;
        const ended = visit.end();
        if (ended) return ended;
      }
    }
    return undefined;
  }

  // True between records: the bytes so far were whole records.
  atBoundary(): boolean {
    return this.left < 0 && this.headHave === 0;
  }

  // The first bytes of a header not complete yet (to tell "not TLS" from the first byte alone).
  partialHeader(): Buffer {
    return this.head.subarray(0, this.headHave);
  }
}
