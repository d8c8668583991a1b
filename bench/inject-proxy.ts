// The proxy half of bench/inject.ts, in a process of its own: on 127.0.0.1, either a plain TCP
// relay to the upstream (what a tunnel does after CONNECT) or the injecting layer. Prints its port;
// answers "mem" on stdin with its memory after a full GC (run with --expose-gc).
//   node --expose-gc --import tsx bench/inject-proxy.ts '<json>'
//   json: { mode: 'plain'|'inject', upstreamPort, name, labCa, proxyCaCert, proxyCaKey, secretFile }

import { readFileSync } from 'node:fs';
import { connect as netConnect, createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { certificateAuthority } from '../src/inject/certificate-authority.ts';
import { runInjectingTunnel } from '../src/inject/injecting-tunnel.ts';
import { allSecretNeedles, injectionPlan } from '../src/inject/injection-plan.ts';

const config = JSON.parse(process.argv[2]!);
const labCa = readFileSync(config.labCa, 'utf8');
const secret = readFileSync(config.secretFile, 'latin1').trim();
const values = new Map([['key', secret]]);
const ca = certificateAuthority(readFileSync(config.proxyCaCert, 'utf8'), readFileSync(config.proxyCaKey, 'utf8'), [config.name]);
const plan = injectionPlan({ name: 'bench', inject: [{ header: 'x-api-key', template: [{ secret: 'key' }] }] }, values)!;
const needles = allSecretNeedles([{ name: 'key' }], values);
let requests = 0;

const server = createServer((socket) => {
  if (config.mode === 'plain') {
    const upstream = netConnect(config.upstreamPort, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
    return;
  }
  // As the doors do: the first bytes (the ClientHello) are read before the layer takes over, and
  // handed to it, so the bench measures the path the proxy runs.
  socket.once('data', (hello: Buffer) => {
  socket.pause();
  void runInjectingTunnel({
    client: socket, hello, name: config.name, port: 443, leaf: ca.leafFor(config.name), plan, needles, idleMs: 60_000, stallMs: 30_000,
    audit: (r) => {
      if (r.kind === 'injected-request') requests++;
    },
    connectUpstream: () => tlsConnect({ host: '127.0.0.1', port: config.upstreamPort, servername: config.name, ca: labCa, ALPNProtocols: ['http/1.1'] }),
  });
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`));
process.stdin.setEncoding('utf8');
process.stdin.on('data', (line: string) => {
  if (!line.startsWith('mem')) return;
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, requests })}\n`);
});
// Stopped by the bench: exit normally, so a --cpu-prof profile is written.
process.on('SIGTERM', () => process.exit(0));
