// Reads a TLS ClientHello's body (the handshake message after its 4-byte header) without a TLS
// library: the hello is plaintext, and the proxy only needs its server name (SNI) and whether it
// hides the real name (ECH/ESNI), read with every length checked against the bytes present.
// Framing (records, messages split over them) is the handshake follower's job.

export interface ClientHelloFacts {
  sni: string | undefined;
  /** Any Encrypted ClientHello or ESNI extension, of any draft. */
  ech: boolean;
  /** The client offered 0-RTT data (early_data, RFC 8446 §4.2.10). */
  earlyData: boolean;
}

export type HelloBody = ({ status: 'hello' } & ClientHelloFacts) | { status: 'refused'; reason: string };

const EXT_SERVER_NAME = 0;
const EXT_EARLY_DATA = 42;
// Every code point an encrypted or hidden server name has used: ECH as published (0xfe0d), the
// ECH drafts before it (0xfe08-0xfe0c), and ESNI (0xffce). An outer SNI beside any of them says
// nothing about the server really asked for.
export const ECH_CODE_POINTS: ReadonlySet<number> = new Set([0xfe08, 0xfe09, 0xfe0a, 0xfe0b, 0xfe0c, 0xfe0d, 0xffce]);

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
// session id, cipher suites, compression methods, extensions. Never throws.
export function parseClientHelloBody(body: Buffer): HelloBody {
  const bad = (what: string): HelloBody => ({ status: 'refused', reason: `malformed ClientHello: ${what}` });
  const r = new Reader(body);
  if (!r.take(2 + 32)) return bad('too short');
  const sessionLength = r.u8();
  if (sessionLength === undefined || sessionLength > 32 || !r.take(sessionLength)) return bad('session id');
  const suitesLength = r.u16();
  if (suitesLength === undefined || suitesLength < 2 || suitesLength % 2 !== 0 || !r.take(suitesLength)) return bad('cipher suites');
  const compressionLength = r.u8();
  if (compressionLength === undefined || compressionLength < 1 || !r.take(compressionLength)) return bad('compression methods');
  if (r.left() === 0) return { status: 'hello', sni: undefined, ech: false, earlyData: false }; // no extensions at all
  const extensionsLength = r.u16();
  if (extensionsLength === undefined || extensionsLength !== r.left()) return bad('extensions length');
  const seen = new Set<number>();
  let sni: string | undefined;
  let ech = false;
  let earlyData = false;
  while (r.left() > 0) {
    const type = r.u16();
    const length = r.u16();
    const data = length === undefined ? undefined : r.take(length);
    if (type === undefined || data === undefined) return bad('extension');
    // RFC 8446 §4.2: no extension type twice; two SNI lists would let client and server disagree.
    if (seen.has(type)) return bad(`extension ${type} appears twice`);
    seen.add(type);
    if (ECH_CODE_POINTS.has(type)) ech = true;
    if (type === EXT_EARLY_DATA) earlyData = true;
    if (type === EXT_SERVER_NAME) {
      const name = parseServerName(data);
      if (typeof name !== 'string') return bad(name.error);
      sni = name;
    }
  }
  return { status: 'hello', sni, ech, earlyData };
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
