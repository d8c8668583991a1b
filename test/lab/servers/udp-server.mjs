// A lab UDP service: logs one JSON line per datagram (before answering) and echoes it back, so a
// test can prove at the destination whether UDP got through.
// Run inside a lab namespace: node udp-server.mjs '<json config>'. Prints one "ready" line.
//   config: { name, address, port, log }

import dgram from 'node:dgram';
import { appendFileSync } from 'node:fs';
import net from 'node:net';

const config = JSON.parse(process.argv[2] ?? '{}');
const socket = dgram.createSocket({ type: net.isIPv6(config.address) ? 'udp6' : 'udp4' });

socket.on('message', (msg, rinfo) => {
  appendFileSync(
    config.log,
    `${JSON.stringify({ service: config.name, kind: 'datagram', from: rinfo.address, fromPort: rinfo.port, to: config.address, toPort: config.port, at: Date.now(), bytes: msg.length })}\n`,
  );
  socket.send(msg, rinfo.port, rinfo.address);
});
socket.on('error', (error) => {
  process.stderr.write(`${config.name}: ${error.message}\n`);
  process.exit(1);
});
socket.bind({ address: config.address, port: config.port, exclusive: true }, () => {
  process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid, port: socket.address().port })}\n`);
});
