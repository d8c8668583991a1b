// A lab WSS gateway shaped like Discord's: HELLO (op 10) on open; IDENTIFY (op 2) with the real
// token gets READY (op 0), RESUME (op 6) gets RESUMED; a wrong token is closed with 4004. Every
// other text message is logged as received (so a test sees a placeholder arrive as the
// placeholder) and echoed back as op 0 "ECHO"; a message holding the real token anywhere but an
// IDENTIFY/RESUME d.token is logged as `leaked`. Logs say whether an extension was offered. The
// token is read from secretFile; no log line holds it.
// Run inside a lab namespace: node inject-gateway-server.mjs '<json config>'. Prints one "ready" line.
//   config: { name, address, port, log, tls: { cert, key }, secretFile }

import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { listenAnnounced } from './listen-announced.mjs';

const config = JSON.parse(process.argv[2] ?? '{}');
const token = readFileSync(config.secretFile, 'latin1').replace(/\r?\n$/, '');

function record(entry) {
  appendFileSync(config.log, `${JSON.stringify({ service: config.name, at: Date.now(), ...entry })}\n`);
}

// A server frame (unmasked, FIN set).
function frame(opcode, payload) {
  const body = Buffer.from(payload);
  const head = body.length < 126 ? Buffer.from([0x80 | opcode, body.length]) : Buffer.from([0x80 | opcode, 126, body.length >> 8, body.length & 255]);
  return Buffer.concat([head, body]);
}

const server = https.createServer({ cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) }, (request, response) => {
  response.writeHead(426);
  response.end();
});
server.on('upgrade', (request, socket) => {
  const key = request.headers['sec-websocket-key'];
  const offered = request.headers['sec-websocket-extensions'] ?? null;
  record({ kind: 'open', path: request.url, offeredExtensions: offered });
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  socket.write(frame(1, JSON.stringify({ op: 10, d: { heartbeat_interval: 41250 } })));
  let pending = Buffer.alloc(0);
  let parts = [];
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      if (pending.length < 2) return;
      let length = pending[1] & 0x7f;
      let at = 2;
      if (length === 126) {
        if (pending.length < 4) return;
        length = pending.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (pending.length < 10) return;
        length = Number(pending.readBigUInt64BE(2));
        at = 10;
      }
      const masked = (pending[1] & 0x80) !== 0;
      if (!masked) {
        record({ kind: 'unmasked' });
        socket.destroy();
        return;
      }
      if (pending.length < at + 4 + length) return;
      const mask = pending.subarray(at, at + 4);
      const payload = Buffer.from(pending.subarray(at + 4, at + 4 + length));
      for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
      const fin = (pending[0] & 0x80) !== 0;
      const opcode = pending[0] & 0x0f;
      pending = pending.subarray(at + 4 + length);
      if (opcode === 8) {
        socket.end(frame(8, payload.subarray(0, 2)));
        return;
      }
      if (opcode === 9) {
        socket.write(frame(10, payload));
        continue;
      }
      parts.push(payload);
      if (!fin) continue;
      const text = Buffer.concat(parts).toString('utf8');
      parts = [];
      handle(text);
    }
  });
  function handle(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      message = undefined;
    }
    if (message && (message.op === 2 || message.op === 6)) {
      const good = message.d?.token === token;
      const rest = JSON.stringify({ ...message, d: { ...message.d, token: good ? '<the token>' : message.d?.token } });
      record({ kind: message.op === 2 ? 'identify' : 'resume', authorized: good, leaked: rest.includes(token), received: good ? undefined : rest });
      if (!good) {
        socket.end(frame(8, Buffer.concat([Buffer.from([0x0f, 0xa4]), Buffer.from('Authentication failed.')])));
        return;
      }
      socket.write(frame(1, JSON.stringify(message.op === 2
        ? { op: 0, t: 'READY', s: 1, d: { session_id: 'lab-session', resume_gateway_url: `wss://${request.headers.host}` } }
        : { op: 0, t: 'RESUMED', s: 2, d: {} })));
      return;
    }
    record({ kind: 'message', leaked: text.includes(token), received: text.includes(token) ? '<withheld: held the token>' : text });
    socket.write(frame(1, JSON.stringify({ op: 0, t: 'ECHO', d: text })));
  }
});
listenAnnounced(server, config);
