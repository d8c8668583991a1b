// Reads the server name (SNI) from the TLS ClientHello a client sends first, without a TLS
// library: the hello is plaintext, and the proxy only needs its name, read with every length
// checked against the bytes actually present. The hello may arrive split over several TCP
// segments and over several TLS records; the caller feeds everything received so far.

export type HelloRead =
  | { status: 'incomplete' }
  | { status: 'refused'; reason: string }
  | { status: 'hello'; sni: string | undefined; ech: boolean };

const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ENCRYPTED_CLIENT_HELLO = 0xfe0d;
const MAX_RECORD = 16384; // RFC 8446 §5.1: a plaintext record fragment is at most 2^14 bytes

// `bytes` is everything received after "200 Connection established". Never throws.
export function readClientHello(bytes: Buffer, maxBytes: number): HelloRead {
  // Gather the handshake bytes carried by the leading handshake records.
  const fragments: Buffer[] = [];
  let handshakeLength = 0;
  let offset = 0;
  let needed: number | undefined; // the ClientHello's full length, header included, once known
  while (needed === undefined || handshakeLength < needed) {
    if (offset + 5 > bytes.length) return bytes.length >= maxBytes ? tooLarge(maxBytes) : { status: 'incomplete' };
    const type = bytes[offset]!;
    if (type !== RECORD_HANDSHAKE) {
      if (offset === 0 && (type & 0x80) !== 0) return { status: 'refused', reason: 'SSL 2.0 hello (no SNI possible)' };
      return { status: 'refused', reason: offset === 0 ? 'not TLS' : 'ClientHello interrupted by another record type' };
    }
    if (bytes[offset + 1] !== 3 || bytes[offset + 2]! > 4) return { status: 'refused', reason: 'not TLS (bad record version)' };
    const length = bytes.readUInt16BE(offset + 3);
    if (length === 0 || length > MAX_RECORD) return { status: 'refused', reason: `bad TLS record length ${length}` };
    if (offset + 5 + length > maxBytes) return tooLarge(maxBytes);
    // Judge the handshake header as soon as its 4 bytes are here, even before its record is
    // complete, so an impossible length is refused without waiting for (or buffering) the rest.
    const available = Math.min(length, bytes.length - offset - 5);
    if (needed === undefined && handshakeLength + available >= 4) {
      const head = Buffer.concat([...fragments, bytes.subarray(offset + 5, offset + 5 + available)]).subarray(0, 4);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return { status: 'refused', reason: 'first TLS handshake message is not a ClientHello' };
      needed = 4 + head.readUIntBE(1, 3);
      // Records of the hello plus their 5-byte headers must fit the cap.
      if (needed + 5 * Math.ceil(needed / MAX_RECORD) > maxBytes) return tooLarge(maxBytes);
    }
    if (offset + 5 + length > bytes.length) return { status: 'incomplete' };
    fragments.push(bytes.subarray(offset + 5, offset + 5 + length));
    handshakeLength += length;
    offset += 5 + length;
  }
  const handshake = Buffer.concat(fragments, handshakeLength);
  // Another handshake message packed after the ClientHello in the same flight is not TLS 1.x.
  if (handshakeLength !== needed) return { status: 'refused', reason: 'unexpected bytes after the ClientHello' };
  return parseHelloBody(handshake.subarray(4));
}

// The refusal for a hello past the size cap.
function tooLarge(maxBytes: number): HelloRead {
  return { status: 'refused', reason: `ClientHello larger than ${maxBytes} bytes` };
}

// A bounds-checked reader over one buffer: every read says whether the bytes were there.
class Reader {
  offset = 0;
  constructor(readonly bytes: Buffer) {}
  left(): number { return this.bytes.length - this.offset; }
  u8(): number | undefined { return this.left() >= 1 ? this.bytes[this.offset++] : undefined; }
  u16(): number | undefined {
    if (this.left() < 2) return undefined;
    const v = this.bytes.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  take(n: number): Buffer | undefined {
    if (this.left() < n) return undefined;
    const b = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }
}

// The ClientHello body (RFC 8446 §4.1.2; the same layout since TLS 1.0): version, random,
// session id, cipher suites, compression methods, extensions.
function parseHelloBody(body: Buffer): HelloRead {
  const bad = (what: string): HelloRead => ({ status: 'refused', reason: `malformed ClientHello: ${what}` });
  const r = new Reader(body);
  if (!r.take(2 + 32)) return bad('too short');
  const sessionLength = r.u8();
  if (sessionLength === undefined || sessionLength > 32 || !r.take(sessionLength)) return bad('session id');
  const suitesLength = r.u16();
  if (suitesLength === undefined || suitesLength < 2 || suitesLength % 2 !== 0 || !r.take(suitesLength)) return bad('cipher suites');
  const compressionLength = r.u8();
  if (compressionLength === undefined || compressionLength < 1 || !r.take(compressionLength)) return bad('compression methods');
  if (r.left() === 0) return { status: 'hello', sni: undefined, ech: false }; // no extensions at all
  const extensionsLength = r.u16();
  if (extensionsLength === undefined || extensionsLength !== r.left()) return bad('extensions length');
  const seen = new Set<number>();
  let sni: string | undefined;
  let ech = false;
  while (r.left() > 0) {
    const type = r.u16();
    const length = r.u16();
    const data = length === undefined ? undefined : r.take(length);
    if (type === undefined || data === undefined) return bad('extension');
    // RFC 8446 §4.2: no extension type twice; two SNI lists would let client and server disagree.
    if (seen.has(type)) return bad(`extension ${type} appears twice`);
    seen.add(type);
    if (type === EXT_ENCRYPTED_CLIENT_HELLO) ech = true;
    if (type === EXT_SERVER_NAME) {
      const name = parseServerName(data);
      if (typeof name !== 'string') return bad(name.error);
      sni = name;
    }
  }
  return { status: 'hello', sni, ech };
}

// The server_name extension (RFC 6066 §3): a list holding exactly one host_name entry.
function parseServerName(data: Buffer): string | { error: string } {
  const r = new Reader(data);
  const listLength = r.u16();
  if (listLength === undefined || listLength !== r.left() || listLength === 0) return { error: 'server_name list length' };
  let host: string | undefined;
  while (r.left() > 0) {
    const nameType = r.u8();
    const length = r.u16();
    const name = length === undefined ? undefined : r.take(length);
    if (nameType === undefined || name === undefined) return { error: 'server_name entry' };
    if (nameType !== 0) continue; // unknown name types are skipped, as servers do
    if (host !== undefined) return { error: 'more than one host_name in server_name' };
    // Bytes outside printable ASCII cannot be a DNS name; keep them visible as "?" in the reason.
    if (name.length === 0 || name.some((b) => b < 0x21 || b > 0x7e)) return { error: 'server_name is not an ASCII name' };
    host = name.toString('latin1');
  }
  if (host === undefined) return { error: 'server_name holds no host_name' };
  return host;
}
