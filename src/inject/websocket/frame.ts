// RFC 6455 §5.2 frames: reading one from a buffer (sans-io: a frame, "need more", or a problem),
// and writing one, masked as a client must.

import { randomBytes } from 'node:crypto';

export interface Frame {
  fin: boolean;
  /** RSV1–3 as a 3-bit number. */
  rsv: number;
  opcode: number;
  masked: boolean;
  /** Unmasked. */
  payload: Buffer;
  /** The frame's bytes exactly as they came. */
  raw: Buffer;
}

// Larger frames are refused: the rewriter would have to hold them (and no gateway message is near it).
export const MAX_FRAME_PAYLOAD = 1 << 20;

// One frame from the start of `data`: the frame, 'more' when incomplete, or a problem.
export function readFrame(data: Buffer): Frame | 'more' | { problem: string } {
  if (data.length < 2) return 'more';
  const b0 = data[0]!;
  const b1 = data[1]!;
  let length = b1 & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (data.length < 4) return 'more';
    length = data.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (data.length < 10) return 'more';
    const big = data.readBigUInt64BE(2);
    if (big > BigInt(MAX_FRAME_PAYLOAD)) return { problem: 'a frame is larger than 1 MiB' };
    length = Number(big);
    offset = 10;
  }
  if (length > MAX_FRAME_PAYLOAD) return { problem: 'a frame is larger than 1 MiB' };
  const masked = (b1 & 0x80) !== 0;
  const keyAt = offset;
  if (masked) offset += 4;
  if (data.length < offset + length) return 'more';
  const payload = Buffer.from(data.subarray(offset, offset + length));
  if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= data[keyAt + (i & 3)]!;
  return { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload, raw: data.subarray(0, offset + length) };
}

// A client frame (FIN set, masked with a fresh random key) carrying `payload`.
export function writeMaskedFrame(opcode: number, payload: Buffer, mask: Buffer = randomBytes(4)): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.alloc(2) : length < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  header[0] = 0x80 | opcode;
  if (length < 126) header[1] = 0x80 | length;
  else if (length < 65536) {
    header[1] = 0x80 | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  const body = Buffer.alloc(length);
  for (let i = 0; i < length; i++) body[i] = payload[i]! ^ mask[i & 3]!;
  return Buffer.concat([header, mask, body]);
}
