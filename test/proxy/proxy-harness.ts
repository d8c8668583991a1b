// An in-process proxy on loopback for the unit tests, with a fake resolver and a connect hook
// that sends the (never-routed) lab addresses the resolver hands out to a local TLS server.

import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, connect as tlsConnect, type TLSSocket } from 'node:tls';
import { startProxy, type ProxyDeps, type RunningProxy } from '../../src/proxy/server.ts';
import type { AuditRecord, ProxyConfig } from '../../src/proxy/config.ts';
import { PROXY_DEFAULTS } from '../../src/proxy/config.ts';
import { createLabCa } from '../lab/lab-ca.ts';

export const UPSTREAM_ADDRESS = '203.0.113.10'; // TEST-NET-3: what the fake resolver answers

let ca: ReturnType<typeof createLabCa> | undefined;
export function testCa(): ReturnType<typeof createLabCa> {
  ca ??= createLabCa('proxy-unit');
  return ca;
}

export interface Upstream {
  port: number;
  server: Server;
  /** Raw bytes each accepted connection received (TLS servers: decrypted application data). */
  received: Buffer[];
  accepted: number;
  close(): Promise<void>;
}

// A TLS echo server for `names` on 127.0.0.1, whose leaf comes from the lab CA.
export async function startTlsUpstream(names: string[], options: object = {}): Promise<Upstream> {
  const leaf = testCa().issue({ names });
  const received: Buffer[] = [];
  const up: Upstream = { port: 0, server: undefined as unknown as Server, received, accepted: 0, close: async () => {} };
  const server = createTlsServer({ key: leaf.keyPem, cert: leaf.certPem, ...options }, (socket) => {
    const i = received.push(Buffer.alloc(0)) - 1;
    socket.on('data', (d: Buffer) => { received[i] = Buffer.concat([received[i]!, d]); socket.write(d); });
    socket.on('error', () => {});
    socket.on('end', () => socket.end());
  });
  server.on('connection', () => up.accepted++);
  return listen(server, up);
}

// A plain TCP server that records bytes and never answers (to see whether anything got through).
export async function startRawUpstream(onSocket?: (s: Socket) => void): Promise<Upstream> {
  const received: Buffer[] = [];
  const up: Upstream = { port: 0, server: undefined as unknown as Server, received, accepted: 0, close: async () => {} };
  const server = createServer((socket) => {
    up.accepted++;
    const i = received.push(Buffer.alloc(0)) - 1;
    socket.on('data', (d: Buffer) => { received[i] = Buffer.concat([received[i]!, d]); });
    socket.on('error', () => {});
    onSocket?.(socket);
  });
  return listen(server, up);
}

async function listen(server: Server, up: Upstream): Promise<Upstream> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  up.server = server;
  up.port = (server.address() as { port: number }).port;
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });
  up.close = () => new Promise<void>((resolve) => { server.close(() => resolve()); for (const s of sockets) s.destroy(); });
  return up;
}

export interface Harness {
  proxy: RunningProxy;
  config: ProxyConfig;
  dir: string;
  lookups: string[];
  connects: Array<{ host: string; port: number }>;
  /** Each connection's final record and summaries (a tunnel's "open" record left out). */
  audit(): AuditRecord[];
  /** Every record, "open" ones included. */
  auditAll(): AuditRecord[];
  close(): Promise<void>;
}

// Starts a proxy on 127.0.0.1 with `hosts` as its resolver; connects to any address go to
// 127.0.0.1:`upstreamPort` (recorded), so the address filter still sees the resolver's answer.
export async function startHarness(opts: {
  hosts: Record<string, string[]>;
  upstreamPort: number;
  config?: Partial<ProxyConfig>;
  deps?: ProxyDeps;
}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'np-proxy-'));
  const config: ProxyConfig = {
    format: 1,
    vm: 'unit',
    listen: { host: '127.0.0.1', port: 0 },
    allowClients: ['127.0.0.0/8'],
    rules: [
      { name: 'api', host: 'api.example.test', port: 443 },
      { name: 'cdn', host: '*.cdn.example.test', port: 443 },
    ],
    maxConnections: PROXY_DEFAULTS.maxConnections,
    denyNetworks: [],
    auditLog: join(dir, 'audit.jsonl'),
    auditRotateBytes: PROXY_DEFAULTS.auditRotateBytes,
    timeouts: { ...PROXY_DEFAULTS.timeouts },
    maxHeaderBytes: PROXY_DEFAULTS.maxHeaderBytes,
    maxHelloBytes: PROXY_DEFAULTS.maxHelloBytes,
    ...opts.config,
  };
  const lookups: string[] = [];
  const connects: Array<{ host: string; port: number }> = [];
  const proxy = await startProxy(config, {
    lookup: async (name) => {
      lookups.push(name);
      const answer = opts.hosts[name];
      if (!answer) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      return answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    },
    connect: ({ host, port }) => {
      connects.push({ host, port });
      return connect({ host: '127.0.0.1', port: opts.upstreamPort, allowHalfOpen: true });
    },
    ...opts.deps,
  });
  return {
    proxy, config, dir, lookups, connects,
    audit: () => readAudit(config.auditLog).filter((r) => r.event !== 'open'),
    auditAll: () => readAudit(config.auditLog),
    async close() {
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Every record in the log file, in order.
export function readAudit(path: string): AuditRecord[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditRecord) : [];
}

export interface Answer { status: number; head: string; body: string; socket: Socket }

// Opens a connection to the proxy, sends `request` and reads the response head (and, for a
// refusal, the body up to the close). `end`: half-close after sending, as a client with nothing more to say.
export function request(port: number, request: string | Buffer, opts: { end?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let bytes = Buffer.alloc(0);
    socket.on('error', reject);
    const onData = (d: Buffer): void => {
      bytes = Buffer.concat([bytes, d]);
      const end = bytes.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = bytes.subarray(0, end).toString('latin1');
      const status = Number(head.split(' ')[1]);
      if (status === 200) {
        socket.off('data', onData);
        socket.pause();
        if (bytes.length > end + 4) socket.unshift(bytes.subarray(end + 4));
        resolve({ status, head, body: '', socket });
      }
    };
    socket.on('data', onData);
    socket.on('close', () => {
      const text = bytes.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return resolve({ status: 0, head: text, body: '', socket });
      resolve({ status: Number(text.split(' ')[1]), head: text.slice(0, end), body: text.slice(end + 4), socket });
    });
    if (opts.end) socket.end(request);
    else socket.write(request);
  });
}

// CONNECT through the proxy, then a TLS handshake with `servername` over the tunnel.
export async function tlsThrough(port: number, target: string, servername: string): Promise<{ answer: Answer; tls?: TLSSocket; error?: Error }> {
  const answer = await request(port, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  if (answer.status !== 200) return { answer };
  return new Promise((resolve) => {
    const tls = tlsConnect({ socket: answer.socket, servername, ca: testCa().certPem });
    tls.once('secureConnect', () => resolve({ answer, tls }));
    tls.once('error', (error) => resolve({ answer, error }));
  });
}

// Sends `data` on an open TLS socket and waits for the echo.
export function echo(tls: TLSSocket, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      got = Buffer.concat([got, d]);
      if (got.length >= data.length) { tls.off('data', onData); resolve(got); }
    };
    tls.on('data', onData);
    tls.once('error', reject);
    tls.write(data);
  });
}

// Resolves once the socket is closed; rejects after `ms` (a tunnel that should have been cut).
export function closed(socket: Socket, ms = 3000): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`socket still open after ${ms} ms`)); }, ms);
    socket.once('close', () => { clearTimeout(timer); resolve(); });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Waits until `check` holds (audit records are written as sockets close, a tick later).
export async function eventually<T>(check: () => T | undefined | false, ms = 2000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(10);
  }
}
