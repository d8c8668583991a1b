// The VM side of the stalled-DNS lab test: floods the proxy with CONNECTs to names whose DNS never
// answers, then, while they hang, opens TLS tunnels to honest names and reports how long each took.
//   node resolver-client.mjs '{"host","port","flood":["name",...],"honest":["name",...],"ca"}'

import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const c = JSON.parse(process.argv[2] ?? '{}');
const ca = readFileSync(c.ca);

// CONNECT through the proxy; resolves with the status line and, for 200, the socket.
function connectVia(name) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: c.host, port: c.port });
    let head = '';
    socket.on('error', (e) => resolve({ status: `error ${e.code}` }));
    socket.on('close', () => resolve({ status: head.split('\r\n')[0] || 'closed without an answer' }));
    socket.once('connect', () => socket.write(`CONNECT ${name}:443 HTTP/1.1\r\nHost: ${name}:443\r\n\r\n`));
    const onData = (d) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      const status = head.split('\r\n')[0];
      if (!status.startsWith('HTTP/1.1 200')) socket.destroy();
      resolve({ status, socket });
    };
    socket.on('data', onData);
    socket.setTimeout(20_000, () => socket.destroy());
  });
}

const flood = c.flood.map((name) => connectVia(name).then((r) => { r.socket?.destroy(); return r.status; }));
await new Promise((r) => setTimeout(r, 300));
const honest = await Promise.all(c.honest.map(async (name) => {
  const started = performance.now();
  const r = await connectVia(name);
  if (!r.socket) return { name, ok: false, status: r.status, ms: performance.now() - started };
  const ok = await new Promise((resolve) => {
    const t = tls.connect({ socket: r.socket, servername: name, ca });
    t.once('secureConnect', () => { t.destroy(); resolve(true); });
    t.once('error', () => resolve(false));
    t.once('close', () => resolve(false));
  });
  return { name, ok, status: r.status, ms: performance.now() - started };
}));
const statuses = await Promise.all(flood);
process.stdout.write(`${JSON.stringify({ honest, flood: statuses })}\n`);
