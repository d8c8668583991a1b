// A lab DNS responder (UDP): answers A and AAAA queries from a fixed name map, NXDOMAIN otherwise,
// and appends one JSON line per query to a log file, so a test can count queries.
// Run inside a lab namespace: node dns-server.mjs '<json config>'. Prints one "ready" line.
//   config: { name, address, port, log, map: { "name": ["198.51.100.10", "2001:db8::1", ...] }, silent?: ["suffix"] }
// Names strictly below a `silent` suffix get no answer at all (logged as kind "dropped").

import dgram from 'node:dgram';
import { appendFileSync } from 'node:fs';
import net from 'node:net';

const config = JSON.parse(process.argv[2] ?? '{}');
const map = new Map(Object.entries(config.map ?? {}).map(([k, v]) => [k.toLowerCase().replace(/\.$/, ''), [v].flat()]));
const socket = dgram.createSocket({ type: net.isIPv6(config.address) ? 'udp6' : 'udp4' });

// Reads the question's name, type and where the question section ends; undefined if malformed.
function parseQuestion(msg) {
  if (msg.length < 12 || msg.readUInt16BE(4) < 1) return undefined;
  const labels = [];
  let at = 12;
  for (;;) {
    const len = msg[at];
    if (len === undefined || len > 63) return undefined;
    at++;
    if (len === 0) break;
    labels.push(msg.subarray(at, at + len).toString('latin1'));
    at += len;
  }
  if (at + 4 > msg.length) return undefined;
  return { qname: labels.join('.').toLowerCase(), qtype: msg.readUInt16BE(at), end: at + 4 };
}

function ipBytes(address) {
  if (net.isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  const [head, tail = ''] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = address.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

socket.on('message', (msg, rinfo) => {
  const q = parseQuestion(msg);
  if (!q) return;
  if ((config.silent ?? []).some((suffix) => q.qname.endsWith(`.${suffix}`))) {
    appendFileSync(config.log, `${JSON.stringify({ service: config.name, kind: 'dropped', from: rinfo.address, at: Date.now(), qname: q.qname, qtype: q.qtype })}\n`);
    return;
  }
  const known = map.get(q.qname);
  const want = q.qtype === 1 ? 4 : q.qtype === 28 ? 6 : 0;
  const answers = (known ?? []).filter((a) => want !== 0 && net.isIP(a) === want);
  const rcode = known ? 0 : 3;
  appendFileSync(
    config.log,
    `${JSON.stringify({ service: config.name, kind: 'query', from: rinfo.address, fromPort: rinfo.port, to: config.address, toPort: config.port, at: Date.now(), qname: q.qname, qtype: q.qtype, rcode, answers })}\n`,
  );
  const header = Buffer.alloc(12);
  header.writeUInt16BE(msg.readUInt16BE(0), 0);
  header.writeUInt16BE(0x8000 | (msg.readUInt16BE(2) & 0x0100) | 0x0400 | 0x0080 | rcode, 2); // QR, RD copied, AA, RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const records = answers.map((a) => {
    const data = ipBytes(a);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    rr.writeUInt16BE(q.qtype, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(data.length, 10);
    return Buffer.concat([rr, data]);
  });
  socket.send(Buffer.concat([header, msg.subarray(12, q.end), ...records]), rinfo.port, rinfo.address);
});
socket.on('error', (error) => {
  process.stderr.write(`${config.name}: ${error.message}\n`);
  process.exit(1);
});
socket.bind({ address: config.address, port: config.port, exclusive: true }, () => {
  process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid, port: socket.address().port })}\n`);
});
