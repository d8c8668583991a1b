// Reassembles TLS handshake messages (RFC 8446 §4: type, 24-bit length, body) from the fragments
// of handshake records, incrementally: a message's parts are kept as a list and joined once, when
// it is complete, and messages nobody needs are only counted past.

export interface HandshakeVisitor {
  /** A message header: return 'keep' to be handed its body, 'skip' to pass over it, or a refusal. */
  header(type: number, length: number): 'keep' | 'skip' | string;
  /** A whole message; `body` is undefined when it was skipped. */
  message(type: number, body: Buffer | undefined): string | undefined;
}

export class HandshakeReader {
  private readonly head = Buffer.alloc(4);
  private headHave = 0;
  private type = 0;
  /** Body bytes still to come; -1 between messages. */
  private left = -1;
  private keeping = false;
  private parts: Buffer[] = [];
  private have = 0;

  // Feeds a fragment of a handshake record; returns the first reason a visitor gave.
  read(piece: Buffer, visit: HandshakeVisitor): string | undefined {
    let at = 0;
    while (at < piece.length) {
      if (this.left < 0) {
        const take = Math.min(4 - this.headHave, piece.length - at);
        piece.copy(this.head, this.headHave, at, at + take);
        this.headHave += take;
        at += take;
        if (this.headHave < 4) return undefined;
        this.headHave = 0;
        this.type = this.head[0]!;
        const length = this.head.readUIntBE(1, 3);
        const decision = visit.header(this.type, length);
        if (decision !== 'keep' && decision !== 'skip') return decision;
        this.keeping = decision === 'keep';
        this.parts = [];
        this.have = 0;
        this.left = length;
        if (length === 0) {
          const stop = this.finish(visit);
          if (stop) return stop;
        }
        continue;
      }
      const take = Math.min(this.left, piece.length - at);
      if (this.keeping) {
        this.parts.push(piece.subarray(at, at + take));
        this.have += take;
      }
      at += take;
      this.left -= take;
      if (this.left === 0) {
        const stop = this.finish(visit);
        if (stop) return stop;
      }
    }
    return undefined;
  }

  // True when a message has begun (even its header only) and is not complete.
  inMessage(): boolean {
    return this.left >= 0 || this.headHave > 0;
  }

  // The type of the message being read (valid while inMessage() and its header is complete).
  currentType(): number | undefined {
    return this.left >= 0 ? this.type : this.headHave > 0 ? this.head[0] : undefined;
  }

  // Hands the completed message over and starts on the next.
  private finish(visit: HandshakeVisitor): string | undefined {
    this.left = -1;
    const body = this.keeping ? (this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.have)) : undefined;
    this.parts = [];
    return visit.message(this.type, body);
  }
}
