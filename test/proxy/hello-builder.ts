// Builds TLS ClientHellos byte by byte for the reader's tests: the parts a hostile client can
// bend (SNI entries, duplicate extensions, record fragmentation) are parameters.

export interface HelloParts {
  /** host_name entries of the server_name extension; undefined = no SNI extension at all. */
  sni?: string[];
  /** Raw extensions [type, data] added after the SNI. */
  extensions?: Array<[number, Buffer]>;
  /** false = a hello with no extensions block. */
  withExtensions?: boolean;
  /** Split the handshake message into records of at most this many bytes. */
  recordSize?: number;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function vec16(data: Buffer): Buffer {
  return Buffer.concat([u16(data.length), data]);
}

export function serverNameExtension(names: string[]): Buffer {
  const entries = Buffer.concat(names.map((n) => Buffer.concat([Buffer.from([0]), vec16(Buffer.from(n, 'latin1'))])));
  return vec16(entries);
}

// The handshake message (type 1, 24-bit length, body).
export function helloMessage(parts: HelloParts = {}): Buffer {
  const extensions: Array<[number, Buffer]> = [];
  if (parts.sni) extensions.push([0, serverNameExtension(parts.sni)]);
  extensions.push(...(parts.extensions ?? [[0x2b, Buffer.from([2, 3, 4])]])); // supported_versions: TLS 1.3
  const extBytes = Buffer.concat(extensions.map(([t, d]) => Buffer.concat([u16(t), vec16(d)])));
  const body = Buffer.concat([
    Buffer.from([3, 3]), Buffer.alloc(32, 7), // legacy_version, random
    Buffer.from([32]), Buffer.alloc(32, 9), // session id
    vec16(Buffer.from([0x13, 0x01, 0x13, 0x02])), // cipher suites
    Buffer.from([1, 0]), // compression: null
    ...(parts.withExtensions === false ? [] : [vec16(extBytes)]),
  ]);
  const header = Buffer.from([1, 0, 0, 0]);
  header.writeUIntBE(body.length, 1, 3);
  return Buffer.concat([header, body]);
}

// Wraps handshake bytes into TLS handshake records of at most `size` bytes each.
export function records(handshake: Buffer, size = 16384): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < handshake.length; i += size) {
    const fragment = handshake.subarray(i, i + size);
    out.push(Buffer.from([22, 3, 1]), u16(fragment.length), fragment);
  }
  return Buffer.concat(out);
}

export function clientHello(parts: HelloParts = {}): Buffer {
  return records(helloMessage(parts), parts.recordSize);
}
