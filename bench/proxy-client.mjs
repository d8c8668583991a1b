// The benchmark's client, run in the lab's VM namespace: set-up time (TCP connect to a TLS
// handshake done, through the proxy's CONNECT or straight to a socat bridge) and the time to
// download N bytes over one such tunnel. Prints one JSON line.
//   node proxy-client.mjs '{"mode":"proxy"|"socat","host","port","name","ca","bytes","setups"}'

import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';

const c = JSON.parse(process.argv[2] ?? '{}');
const ca = readFileSync(c.ca);

// A TCP connection that is ready for TLS: through CONNECT for the proxy, plain for socat.
function tunnel() {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: c.host, port: c.port, noDelay: true });
    socket.once('error', reject);
    socket.once('connect', () => {
      if (c.mode !== 'proxy') return resolve(socket);
      socket.write(`CONNECT ${c.name}:443 HTTP/1.1\r\nHost: ${c.name}:443\r\n\r\n`);
      let head = '';
      const onData = (d) => {
        head += d.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        socket.off('data', onData);
        if (!head.startsWith('HTTP/1.1 200')) return reject(new Error(head.split('\r\n')[0]));
        resolve(socket);
      };
      socket.on('data', onData);
    });
  });
}

async function secure() {
  const socket = await tunnel();
  return new Promise((resolve, reject) => {
    const t = tls.connect({ socket, servername: c.name, ca });
    t.once('secureConnect', () => resolve(t));
    t.once('error', reject);
  });
}

const setupMs = [];
for (let i = 0; i < c.setups; i++) {
  const t0 = performance.now();
  const t = await secure();
  setupMs.push(performance.now() - t0);
  t.destroy();
}

const t = await secure();
const t0 = performance.now();
let got = 0;
await new Promise((resolve, reject) => {
  t.on('data', (d) => { got += d.length; });
  t.on('end', resolve);
  t.on('error', reject);
  t.write(`get ${c.bytes}\n`);
});
const transferMs = performance.now() - t0;
if (got !== c.bytes) throw new Error(`got ${got} of ${c.bytes} bytes`);
process.stdout.write(`${JSON.stringify({ setupMs, transferMs, rssBytes: process.memoryUsage().rss })}\n`);
