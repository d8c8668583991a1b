// Reads the two facts the handshake follower needs from a server's ServerHello body (RFC 8446
// §4.1.3): is it a HelloRetryRequest (the client must send a second ClientHello), and did the
// server choose TLS 1.3 (its records are encrypted from the next one on) or an older version
// (encrypted after its ChangeCipherSpec).

export type ServerHelloFacts = { ok: true; retry: boolean; tls13: boolean } | { ok: false; reason: string };

// SHA-256("HelloRetryRequest"): the random a ServerHello carries when it is a retry request.
const HRR_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');
const EXT_SUPPORTED_VERSIONS = 43;

// Never throws: a body it cannot read is reported, and the follower refuses the tunnel.
export function parseServerHelloBody(body: Buffer): ServerHelloFacts {
  const bad = (what: string): ServerHelloFacts => ({ ok: false, reason: `malformed ServerHello: ${what}` });
  if (body.length < 2 + 32 + 1) return bad('too short');
  const retry = body.subarray(2, 34).equals(HRR_RANDOM);
  let at = 34;
  const sessionLength = body[at]!;
  at += 1 + sessionLength + 2 + 1; // session id, cipher suite, compression method
  if (at > body.length) return bad('too short');
  let tls13 = false;
  if (at < body.length) {
    if (at + 2 > body.length) return bad('extensions length');
    const end = at + 2 + body.readUInt16BE(at);
    if (end !== body.length) return bad('extensions length');
    at += 2;
    while (at < end) {
      if (at + 4 > end) return bad('extension');
      const type = body.readUInt16BE(at);
      const length = body.readUInt16BE(at + 2);
      at += 4;
      if (at + length > end) return bad('extension');
      if (type === EXT_SUPPORTED_VERSIONS && length === 2) tls13 = body.readUInt16BE(at) === 0x0304;
      at += length;
    }
  }
  return { ok: true, retry, tls13 };
}
