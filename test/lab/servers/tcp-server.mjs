// A lab TCP or TLS service: sends a banner, echoes what it gets, and appends one JSON line per
// connection (and per TLS handshake) to a log file, so a test can ask "did anyone connect?".
// Run inside a lab namespace: node tcp-server.mjs '<json config>'. Prints one "ready" line.
//   config: { name, address, port, log, banner?, tls?: { cert, key } }

import { appendFileSync, readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const config = JSON.parse(process.argv[2] ?? '{}');
const banner = config.banner ?? `${config.name}\n`;

// One append per event, written before any reply, so a client that saw the banner is already logged.
function record(kind, socket, extra = {}) {
  const line = {
    service: config.name,
    kind,
    from: socket.remoteAddress?.replace(/^::ffff:/, ''),
    fromPort: socket.remotePort,
    to: socket.localAddress?.replace(/^::ffff:/, ''),
    toPort: socket.localPort,
    at: Date.now(),
    ...extra,
  };
  appendFileSync(config.log, `${JSON.stringify(line)}\n`);
}

function serve(socket) {
  socket.on('error', () => {});
  socket.write(banner);
  socket.on('data', (chunk) => socket.write(chunk));
}

let server;
if (config.tls) {
  server = tls.createServer({ cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) }, (socket) => {
    record('handshake', socket, { sni: socket.servername || null });
    serve(socket);
  });
  server.on('connection', (socket) => record('connect', socket));
  server.on('tlsClientError', () => {});
} else {
  server = net.createServer((socket) => {
    record('connect', socket);
    serve(socket);
  });
}
server.on('error', (error) => {
  process.stderr.write(`${config.name}: ${error.message}\n`);
  process.exit(1);
});
server.listen({ host: config.address, port: config.port, exclusive: true }, () => {
  process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid, port: server.address().port })}\n`);
});
