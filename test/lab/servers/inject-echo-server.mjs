// A lab HTTPS server that reflects every request back: each request header as a response header
// (`x-echo-NAME`), and the whole request head and body as the response body — in small chunks
// when `chunked` is set, so a reflected value straddles chunk boundaries. It is the upstream that
// tries hardest to hand the VM what the proxy added. Logs method and path only.
// Run inside a lab namespace: node inject-echo-server.mjs '<json config>'. Prints one "ready" line.
//   config: { name, address, port, log, tls: { cert, key }, chunked?: boolean, chunkBytes?: number }

import { appendFileSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { listenAnnounced } from './listen-announced.mjs';

const config = JSON.parse(process.argv[2] ?? '{}');
const chunkBytes = config.chunkBytes ?? 7;

const server = https.createServer({ cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) }, (request, response) => {
  appendFileSync(config.log, `${JSON.stringify({ service: config.name, method: request.method, path: request.url.split('?')[0], at: Date.now() })}\n`);
  const parts = [];
  request.on('data', (d) => parts.push(d));
  request.on('end', () => {
    const head = `${request.method} ${request.url} HTTP/${request.httpVersion}\r\n${request.rawHeaders.map((v, i) => (i % 2 ? `${v}\r\n` : `${v}: `)).join('')}\r\n`;
    const body = Buffer.concat([Buffer.from(head, 'latin1'), ...parts, Buffer.from(`\njson:${JSON.stringify(request.headers)}\n`)]);
    const headers = { 'content-type': 'text/plain' };
    for (let i = 0; i < request.rawHeaders.length; i += 2) headers[`x-echo-${request.rawHeaders[i].toLowerCase()}`] = request.rawHeaders[i + 1];
    if (!config.chunked) {
      response.writeHead(200, { ...headers, 'content-length': body.length });
      response.end(body);
      return;
    }
    response.writeHead(200, headers);
    for (let i = 0; i < body.length; i += chunkBytes) response.write(body.subarray(i, i + chunkBytes));
    response.end();
  });
});
listenAnnounced(server, config);
