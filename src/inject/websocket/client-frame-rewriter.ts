// The VM-to-gateway direction of an injected WebSocket (sans-io): frames are read and unmasked,
// fragmented text messages reassembled, and only an IDENTIFY or RESUME gets the token, re-framed
// as one masked frame; every other frame goes on as the exact bytes the VM sent.

import { readFrame, writeMaskedFrame, type Frame } from './frame.ts';
import { withGatewayToken } from './gateway-token.ts';

export type RewriteResult = { type: 'send'; data: Buffer } | { type: 'refuse'; reason: string };

const TEXT = 1;
const BINARY = 2;
const CONTINUATION = 0;
/** A text message is held until complete, up to this size (Discord's own limit is 4 KiB). */
export const MAX_TEXT_MESSAGE = 1 << 20;

export class ClientFrameRewriter {
  private pending: Buffer = Buffer.alloc(0);
  /** The frames of a text message still being received. */
  private text: Frame[] | undefined;
  private textSize = 0;
  private inBinary = false;
  private refused = false;
  /** How many messages got the token (for the audit record). */
  rewritten = 0;

  constructor(private readonly token: string) {}

  push(chunk: Buffer): RewriteResult[] {
    if (this.refused) return [];
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: RewriteResult[] = [];
    for (;;) {
      const frame = readFrame(this.pending);
      if (frame === 'more') return out;
      if ('problem' in frame) return this.refuse(out, frame.problem);
      this.pending = this.pending.subarray(frame.raw.length);
      const problem = this.take(frame, out);
      if (problem) return this.refuse(out, problem);
    }
  }

  // Handles one frame; returns a problem that ends the connection.
  private take(frame: Frame, out: RewriteResult[]): string | undefined {
    if (!frame.masked) return 'a client frame is not masked';
    // Why: no extension was negotiated, so a set RSV bit (RSV1 = compressed) means frames the
    // rewriter cannot read.
    if (frame.rsv !== 0) return 'a frame sets a reserved bit (a compression extension was not negotiated)';
    if (frame.opcode >= 8) {
      if (frame.opcode > 10) return `unknown control opcode ${frame.opcode}`;
      if (!frame.fin || frame.payload.length > 125) return 'a control frame is fragmented or too long';
      out.push({ type: 'send', data: Buffer.from(frame.raw) });
      return undefined;
    }
    if (frame.opcode !== TEXT && frame.opcode !== BINARY && frame.opcode !== CONTINUATION) return `unknown data opcode ${frame.opcode}`;
    if (frame.opcode === CONTINUATION) {
      if (this.text) return this.addText(frame, out);
      if (!this.inBinary) return 'a continuation frame continues no message';
      if (frame.fin) this.inBinary = false;
      out.push({ type: 'send', data: Buffer.from(frame.raw) });
      return undefined;
    }
    if (this.text || this.inBinary) return 'a new message starts before the last one ended';
    if (frame.opcode === BINARY) {
      this.inBinary = !frame.fin;
      out.push({ type: 'send', data: Buffer.from(frame.raw) });
      return undefined;
    }
    this.text = [];
    this.textSize = 0;
    return this.addText(frame, out);
  }

  // Adds a frame to the text message; when it is complete, sends it (rewritten if it is ours).
  private addText(frame: Frame, out: RewriteResult[]): string | undefined {
    this.text!.push(frame);
    this.textSize += frame.payload.length;
    if (this.textSize > MAX_TEXT_MESSAGE) return 'a text message is larger than 1 MiB';
    if (!frame.fin) return undefined;
    const frames = this.text!;
    this.text = undefined;
    const payload = Buffer.concat(frames.map((f) => f.payload));
    const rewritten = withGatewayToken(payload.toString('utf8'), this.token);
    if (rewritten === undefined) {
      for (const f of frames) out.push({ type: 'send', data: Buffer.from(f.raw) });
    } else {
      this.rewritten++;
      out.push({ type: 'send', data: writeMaskedFrame(TEXT, Buffer.from(rewritten, 'utf8')) });
    }
    return undefined;
  }

  private refuse(out: RewriteResult[], reason: string): RewriteResult[] {
    this.refused = true;
    this.pending = Buffer.alloc(0);
    out.push({ type: 'refuse', reason });
    return out;
  }
}
