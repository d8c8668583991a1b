// The benchmark's far end: a TLS server (lab CA leaf) in the lab's "internet". After the
// handshake a client sends "get N\n" and receives N bytes, or sends nothing and just closes.
// Run inside a lab namespace: node proxy-far-end.mjs '{"address","port","cert","key"}'.

import { readFileSync } from 'node:fs';
import tls from 'node:tls';

const config = JSON.parse(process.argv[2] ?? '{}');
const chunk = Buffer.alloc(1 << 20, 0x5a);

// Writes `left` bytes, waiting for 'drain' so the server itself never buffers the whole transfer.
function send(socket, left) {
  while (left > 0) {
    const n = Math.min(left, chunk.length);
    left -= n;
    if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
      socket.once('drain', () => send(socket, left));
      return;
    }
  }
  socket.end();
}

const server = tls.createServer({ cert: readFileSync(config.cert), key: readFileSync(config.key) }, (socket) => {
  socket.on('error', () => {});
  let line = '';
  socket.on('data', (d) => {
    line += d.toString('latin1');
    const m = /^get (\d+)\n/.exec(line);
    if (m) send(socket, Number(m[1]));
  });
});
server.on('tlsClientError', () => {});
server.listen({ host: config.address, port: config.port }, () => process.stdout.write('ready\n'));
