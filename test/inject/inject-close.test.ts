// An injected tunnel ends at once however it ends, through both doors: the client closing right
// after its handshake, half-closing after a request, closing in the middle of a request, the
// server closing first, and a client that stops reading. Each case must end with both sockets
// destroyed, exactly one closing audit record, and the proxy's slot free again — a hostile VM that
// opens handshakes and walks away must not hold `maxConnections` until the idle timeout.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { createServer as createTlsServer, connect as tlsConnect, type Server, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, startHarness, testCa, sleep, type Harness } from '../proxy/proxy-harness.ts';
import { createInjector } from '../../src/inject/injector.ts';
import type { AuditRecord } from '../../src/formats/proxy-config.ts';

const NAME = 'api.example.test';
const STALL_MS = 400;
const dir = mkdtempSync(join(tmpdir(), 'np-inject-close-'));
writeFileSync(join(dir, 'secret'), `sk-lab-${randomBytes(16).toString('hex')}\n`, { mode: 0o600 });

// The lab API in-process: GET /ok answers, /hold never answers, /close drops the connection,
// /big streams far more than any socket buffer holds. Its open sockets are counted.
const serverSockets = new Set<TLSSocket>();
const leaf = testCa().issue({ names: [NAME] });
const api: Server = createTlsServer({ key: leaf.keyPem, cert: leaf.certPem, ALPNProtocols: ['http/1.1'] }, (socket) => {
  serverSockets.add(socket);
  socket.once('close', () => serverSockets.delete(socket));
  socket.on('error', () => {});
  let head = '';
  socket.on('data', (d: Buffer) => {
    head += d.toString('latin1');
    if (!head.includes('\r\n\r\n')) return;
    const path = head.split(' ')[1];
    head = '';
    if (path === '/ok') socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    else if (path === '/close') socket.destroy();
    else if (path === '/big') {
      const piece = Buffer.alloc(64 * 1024, 0x61);
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n`);
      const pump = (): void => { while (!socket.destroyed && socket.write(piece)); if (!socket.destroyed) socket.once('drain', pump); };
      pump();
    }
  });
  socket.on('end', () => socket.end());
});
let harness: Harness;
let proxyCa: string;
let injector: Awaited<ReturnType<typeof createInjector>>;

test.before(async () => {
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  injector = await createInjector({
    caDir: dir,
    caNames: [NAME],
    secrets: [{ name: 'anthropic', source: { kind: 'file', path: join(dir, 'secret') } }],
    rules: [{ name: 'api', headers: [{ header: 'x-api-key', template: '{anthropic}' }] }],
  }, { vm: 'unit', ownerUid: process.getuid!(), env: { PATH: '/usr/bin:/bin' }, idleMs: 60_000, upstreamCa: [testCa().certPem] });
  proxyCa = readFileSync(join(dir, 'proxy-ca.pem'), 'utf8');
});

// A proxy of its own for each case: a tunnel one case leaves open cannot make the next one fail.
test.before.each(async () => {
  harness = await startHarness({
    hosts: { [NAME]: ['203.0.113.10'] },
    upstreamPort: (api.address() as { port: number }).port,
    deps: { injector },
    config: { transparent: [{ listen: { host: '127.0.0.1', port: 0 }, port: 443 }], timeouts: { headerMs: 10_000, helloMs: 10_000, connectMs: 10_000, idleMs: 60_000, stallMs: STALL_MS } },
  });
});

test.after.each(async () => {
  await harness.close();
  for (const s of serverSockets) s.destroy();
  await eventually(() => serverSockets.size === 0);
});

type Door = 'connect' | 'transparent';

// A TLS connection to the injected name through `door`, handshake done.
async function open(door: Door): Promise<{ tls: TLSSocket; raw: Socket }> {
  let raw: Socket;
  if (door === 'connect') {
    raw = connect({ host: '127.0.0.1', port: harness.proxy.address.port });
    await new Promise<void>((resolve, reject) => {
      raw.once('error', reject);
      raw.once('connect', () => raw.write(`CONNECT ${NAME}:443 HTTP/1.1\r\nHost: ${NAME}:443\r\n\r\n`));
      raw.once('data', (d: Buffer) => (/^HTTP\/1\.1 200/.test(d.toString()) ? resolve() : reject(new Error(d.toString()))));
    });
  } else {
    raw = connect({ host: '127.0.0.1', port: harness.proxy.transparent[0]!.port });
  }
  raw.on('error', () => {});
  const tls = tlsConnect({ socket: raw, servername: NAME, ca: proxyCa, ALPNProtocols: ['http/1.1'], allowHalfOpen: true } as never);
  tls.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    tls.once('secureConnect', resolve);
    tls.once('error', reject);
  });
  // The upstream connection is made once the proxy's side of the handshake is done.
  await eventually(() => serverSockets.size > 0);
  return { tls, raw };
}

// The tunnel's closing records: final ones of the core (no "open", no injecting-layer kind).
function closings(): AuditRecord[] {
  return harness.auditAll().filter((r) => r.event !== 'open' && !('kind' in r));
}

// What each case must end in, within `ms`: the client's socket closed, the server's socket gone,
// the slot free, exactly one new closing record (and still one a little later).
// A client that stops reading sees its close only once it reads again (`reading: false`).
async function endsAtOnce(raw: Socket, before: number, ms = 1500, reading = true): Promise<AuditRecord> {
  const started = Date.now();
  if (reading) await eventually(() => raw.destroyed || raw.closed, ms).catch(() => { throw new Error(`the client's connection is still open after ${ms} ms`); });
  await eventually(() => serverSockets.size === 0, ms).catch(() => { throw new Error(`the upstream connection is still open after ${ms} ms`); });
  await eventually(() => harness.proxy.connections() === 0, ms).catch(() => { throw new Error(`the proxy still holds ${harness.proxy.connections()} connection(s) after ${ms} ms`); });
  await eventually(() => closings().length > before, Math.max(100, ms - (Date.now() - started))).catch(() => { throw new Error(`no closing record after ${ms} ms`); });
  await sleep(150);
  const records = closings().slice(before);
  assert.is(records.length, 1, JSON.stringify(records));
  return records[0]!;
}

for (const door of ['connect', 'transparent'] as const) {
  test(`${door} door: a client that completes its handshake and closes without a request ends the tunnel at once`, async () => {
    const before = closings().length;
    const { tls, raw } = await open(door);
    tls.end();
    const record = await endsAtOnce(raw, before);
    assert.is(record.decision, 'allowed');
    assert.is(record.name, NAME);
  });

  test(`${door} door: a client that destroys its connection right after the handshake ends the tunnel at once`, async () => {
    const before = closings().length;
    const { tls, raw } = await open(door);
    tls.destroy();
    await endsAtOnce(raw, before);
  });

  test(`${door} door: a client that sends a request and half-closes gets its answer, then the tunnel ends`, async () => {
    const before = closings().length;
    const { tls, raw } = await open(door);
    const parts: Buffer[] = [];
    tls.on('data', (d: Buffer) => parts.push(d));
    tls.end(`GET /ok HTTP/1.1\r\nHost: ${NAME}\r\n\r\n`);
    await endsAtOnce(raw, before);
    assert.match(Buffer.concat(parts).toString('latin1'), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
    assert.is(harness.auditAll().filter((r) => (r as { kind?: string }).kind === 'injected-request' && (r as { path?: string }).path === '/ok').length > 0, true);
  });

  test(`${door} door: a client that closes in the middle of a request ends the tunnel at once`, async () => {
    const before = closings().length;
    const { tls, raw } = await open(door);
    tls.write(`POST /hold HTTP/1.1\r\nHost: ${NAME}\r\nContent-Length: 1000\r\n\r\n0123456789`);
    await sleep(100);
    tls.destroy();
    await endsAtOnce(raw, before);
  });

  test(`${door} door: a client that half-closes in the middle of a request ends the tunnel at once`, async () => {
    const before = closings().length;
    const { tls, raw } = await open(door);
    tls.write(`POST /hold HTTP/1.1\r\nHost: ${NAME}\r\nContent-Length: 1000\r\n\r\n0123456789`);
    await sleep(100);
    tls.end();
    await endsAtOnce(raw, before);
  });

  test(`${door} door: a server that closes first ends the tunnel at once`, async () => {
    const before = closings().length;
    const { tls, raw } = await open(door);
    tls.write(`GET /close HTTP/1.1\r\nHost: ${NAME}\r\n\r\n`);
    await endsAtOnce(raw, before);
  });

  test(`${door} door: a server that closes with no request pending ends the tunnel at once`, async () => {
    const before = closings().length;
    const { tls, raw } = await open(door);
    for (const s of serverSockets) s.end();
    await endsAtOnce(raw, before);
    assert.ok(tls.destroyed || tls.readableEnded);
  });

  test(`${door} door: a client that stops reading is cut after the stall timeout`, async () => {
    const before = closings().length;
    const { tls, raw } = await open(door);
    tls.pause();
    raw.pause();
    tls.write(`GET /big HTTP/1.1\r\nHost: ${NAME}\r\n\r\n`);
    const record = await endsAtOnce(raw, before, STALL_MS + 5000, false);
    assert.match(record.reason, /the client stopped reading/);
    tls.resume();
    await eventually(() => raw.destroyed || raw.closed);
  });
}

test.after(async () => {
  await new Promise<void>((resolve) => api.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

test.run();
