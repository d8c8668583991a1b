// A lab HTTPS API for credential injection: it answers only when `x-api-key` is the real secret,
// and streams server-sent events like Claude's API. One JSON line per request in the log — method,
// path, whether the key was right — never a header's value.
// Run inside a lab namespace: node inject-api-server.mjs '<json config>'. Prints one "ready" line.
//   config: { name, address, port, log, tls: { cert, key }, secretFile, events?: number, intervalMs?: number }
// The secret is read from secretFile (0600), never from argv.

import { appendFileSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { listenAnnounced } from './listen-announced.mjs';

const config = JSON.parse(process.argv[2] ?? '{}');
const secret = readFileSync(config.secretFile, 'latin1').replace(/\r?\n$/, '');
const events = config.events ?? 5;
const intervalMs = config.intervalMs ?? 20;

function record(request, extra) {
  appendFileSync(config.log, `${JSON.stringify({ service: config.name, method: request.method, path: request.url.split('?')[0], at: Date.now(), ...extra })}\n`);
}

const server = https.createServer({ cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) }, (request, response) => {
  const keys = request.headers['x-api-key'];
  const authorized = keys === secret;
  record(request, { authorized, keyHeaders: request.rawHeaders.filter((_, i) => i % 2 === 0 && /^x-api-key$/i.test(request.rawHeaders[i])).length });
  request.resume();
  if (!authorized) {
    response.writeHead(401, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }));
    return;
  }
  if (request.method === 'GET' && request.url.startsWith('/v1/models')) {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ data: [{ id: 'lab-model', type: 'model' }] }));
    return;
  }
  if (request.method === 'POST' && request.url.startsWith('/v1/messages')) {
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let sent = 0;
      const tick = () => {
        if (sent === events) {
          response.end('event: message_stop\ndata: {"type":"message_stop"}\n\n');
          return;
        }
        response.write(`event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: sent, sentAt: Date.now() })}\n\n`);
        sent++;
        setTimeout(tick, intervalMs);
      };
      tick();
    });
    return;
  }
  response.writeHead(404, { 'content-type': 'application/json' });
  response.end('{"type":"error"}');
});
listenAnnounced(server, config);
