// A minimal DNS query packet (RFC 1035 §4.1): one question, type A, class IN, recursion desired.

// Builds the bytes of a query for `name` with the given id.
export function dnsQuery(name: string, id: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id & 0xffff, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4); // QDCOUNT
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  const qname = Buffer.concat([
    ...labels.map((l) => {
      const b = Buffer.from(l, 'ascii');
      return Buffer.concat([Buffer.from([b.length]), b]);
    }),
    Buffer.from([0]),
  ]);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(1, 0); // A
  tail.writeUInt16BE(1, 2); // IN
  return Buffer.concat([header, qname, tail]);
}
