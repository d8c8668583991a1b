// The injecting layer end to end on loopback (the door replaced by a bare listener): a VM client
// holding only placeholders reaches the lab API, echo server and gateway through it; every byte
// the VM receives is searched for the secret; each refusal is answered and recorded; one audit
// record per request and one when a WebSocket opens.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLabCa } from '../lab/lab-ca.ts';
import { SERVERS_DIR } from '../lab/start-service.ts';
import { certificateAuthority, createCaCertificate, newKeyPem } from '../../src/inject/certificate-authority.ts';
import { runInjectingTunnel } from '../../src/inject/injecting-tunnel.ts';
import { allSecretNeedles, injectionPlan } from '../../src/inject/injection-plan.ts';
import type { InjectAuditRecord } from '../../src/inject/inject-audit.ts';
import { readFrame, writeMaskedFrame } from '../../src/inject/websocket/frame.ts';

const dir = mkdtempSync(join(tmpdir(), 'np-inject-tunnel-'));
const SECRET = `sk-lab-${randomBytes(16).toString('hex')}`;
const TOKEN = `bot.${randomBytes(18).toString('base64url')}`;
const values = new Map([['anthropic', SECRET], ['discord', TOKEN]]);
writeFileSync(join(dir, 'api-secret'), SECRET, { mode: 0o600 });
writeFileSync(join(dir, 'gw-secret'), TOKEN, { mode: 0o600 });
const labCa = createLabCa('inject-tunnel');
const upstreamLeaf = labCa.issue({ names: ['api.lab.test', 'gw.lab.test', 'echo.lab.test'] });
writeFileSync(join(dir, 'cert.pem'), upstreamLeaf.certPem);
writeFileSync(join(dir, 'key.pem'), upstreamLeaf.keyPem, { mode: 0o600 });
const NAMES = ['api.lab.test', 'echo.lab.test', 'gw.lab.test'];
const caKey = newKeyPem();
const proxyCa = certificateAuthority(createCaCertificate(caKey, NAMES, 'test'), caKey, NAMES);
const needles = allSecretNeedles([{ name: 'anthropic' }, { name: 'discord' }], values);
const children: ChildProcess[] = [];
const audit: InjectAuditRecord[] = [];
const vmBytes: Buffer[] = [];
const ports: Record<string, number> = {};
const doors: Record<string, number> = {};
const servers: Server[] = [];

function startServer(script: string, name: string, secretFile: string, extra: Record<string, unknown> = {}): Promise<number> {
  const config = { name, address: '127.0.0.1', port: 0, log: join(dir, `${name}.log`), tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }, secretFile, ...extra };
  const child = spawn(process.execPath, [join(SERVERS_DIR, script), JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString().split('\n')[0]!).port));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

// A listener standing in for a door: every connection is an injected tunnel for `name`.
function door(name: string, rule: { name: string; inject?: Array<{ header: string; template: Array<{ text: string } | { secret: string }> }>; websocketToken?: string }, upstreamPort: number, upstreamName = name): Promise<number> {
  const plan = injectionPlan(rule, values)!;
  const server = createServer((socket) => {
    void runInjectingTunnel({
      client: socket, hello: Buffer.alloc(0), name, port: 443, leaf: proxyCa.leafFor(name), plan, needles, idleMs: 5000, stallMs: 5000,
      audit: (r) => audit.push(r),
      connectUpstream: () => tlsConnect({ host: '127.0.0.1', port: upstreamPort, servername: upstreamName, ca: labCa.certPem, ALPNProtocols: ['http/1.1'] }),
    });
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

// The VM: raw bytes over TLS to a door (trusting only our proxy CA); every plaintext byte it
// receives is kept for the final search.
function vm(port: number, servername: string, send: Array<Buffer | string>, waitMs = 400): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca: proxyCa.certPem, ALPNProtocols: ['http/1.1'] }, () => {
      for (const s of send) socket.write(s);
    });
    socket.on('data', (d: Buffer) => {
      parts.push(d);
      vmBytes.push(d);
    });
    socket.on('error', reject);
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(parts).toString('latin1'));
    });
  });
}

const apiRule = { name: 'claude', inject: [{ header: 'x-api-key', template: [{ secret: 'anthropic' }] }] };

test('start the lab servers and the doors', async () => {
  ports.api = await startServer('inject-api-server.mjs', 'api', join(dir, 'api-secret'), { events: 5, intervalMs: 30 });
  ports.echo = await startServer('inject-echo-server.mjs', 'echo', join(dir, 'api-secret'), { chunked: true, chunkBytes: 5 });
  ports.gw = await startServer('inject-gateway-server.mjs', 'gw', join(dir, 'gw-secret'));
  doors.api = await door('api.lab.test', apiRule, ports.api);
  doors.echo = await door('echo.lab.test', { name: 'echo', inject: [{ header: 'authorization', template: [{ text: 'Bot ' }, { secret: 'discord' }] }, { header: 'x-api-key', template: [{ secret: 'anthropic' }] }] }, ports.echo);
  doors.gw = await door('gw.lab.test', { name: 'gateway', websocketToken: 'discord' }, ports.gw);
  doors.wrongUpstream = await door('api.lab.test', apiRule, ports.api, 'other.lab.test');
});

test('the API answers the placeholder-holding VM: two keep-alive requests and a streamed response, events as they come', async () => {
  const get = 'GET /v1/models?key=1 HTTP/1.1\r\nHost: api.lab.test\r\nx-api-key: nanopolicy-placeholder:anthropic\r\n\r\n';
  const post = 'POST /v1/messages HTTP/1.1\r\nHost: api.lab.test\r\nx-api-key: nanopolicy-placeholder:anthropic\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}';
  const text = await vm(doors.api!, 'api.lab.test', [get, post], 2000);
  assert.is(text.match(/HTTP\/1\.1 200/g)?.length, 2, text.slice(0, 300));
  assert.match(text, /lab-model/);
  assert.is(text.match(/event: content_block_delta/g)?.length, 5);
  const log = readFileSync(join(dir, 'api.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(log.map((l) => [l.authorized, l.keyHeaders]), [[true, 1], [true, 1]]);
  const records = audit.filter((r) => r.kind === 'injected-request' && r.name === 'api.lab.test');
  assert.equal(records.map((r) => r.kind === 'injected-request' && [r.method, r.path, r.status, r.secrets]), [['GET', '/v1/models', 200, ['anthropic']], ['POST', '/v1/messages', 200, ['anthropic']]]);
});

test('the echo server reflects everything, and the VM still gets only masks where the secrets were', async () => {
  const text = await vm(doors.echo!, 'echo.lab.test', ['POST /x HTTP/1.1\r\nHost: echo.lab.test\r\nAuthorization: Bot nanopolicy-placeholder:discord\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world'], 1500);
  assert.match(text, /HTTP\/1\.1 200/);
  assert.match(text, /x-echo-authorization: Bot \*+\r\n/);
  const body = dechunk(text.slice(text.indexOf('\r\n\r\n') + 4));
  assert.match(body, /hello world/);
  // The reflected head holds masks where the proxy put the secrets: in the header lines and the JSON.
  assert.match(body, /authorization: Bot \*+\r\n/i);
  assert.match(body, /"x-api-key":"\*+"/);
  assert.not.ok(text.includes(SECRET) || text.includes(TOKEN) || body.includes(SECRET) || body.includes(TOKEN));
});

test('each smuggling shape is answered 403 and recorded, and reaches no server', async () => {
  const before = readFileSync(join(dir, 'api.log'), 'utf8');
  const attacks = [
    'POST / HTTP/1.1\r\nHost: api.lab.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n',
    'GET http://evil.test/ HTTP/1.1\r\nHost: api.lab.test\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: api.lab.test\r\nX: a\r\n b\r\n\r\n',
    'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
  ];
  for (const attack of attacks) {
    const text = await vm(doors.api!, 'api.lab.test', [attack], 1500);
    assert.match(text, /^HTTP\/1\.1 403 Forbidden/, attack);
  }
  assert.is(readFileSync(join(dir, 'api.log'), 'utf8'), before);
  assert.is(audit.filter((r) => r.kind === 'inject-refused').length, attacks.length);
});

test('a server whose certificate does not match is refused (502), never relayed unverified', async () => {
  const text = await vm(doors.wrongUpstream!, 'api.lab.test', ['GET /v1/models HTTP/1.1\r\nHost: api.lab.test\r\n\r\n'], 1500);
  assert.match(text, /^HTTP\/1\.1 502/);
  assert.ok(audit.some((r) => r.kind === 'inject-refused' && r.code === 'upstream-tls'));
});

// The payload of a chunked body.
function dechunk(text: string): string {
  let out = '';
  for (;;) {
    const line = text.indexOf('\r\n');
    const size = parseInt(text.slice(0, line), 16);
    if (!(size > 0)) return out;
    out += text.slice(line + 2, line + 2 + size);
    text = text.slice(line + 2 + size + 2);
  }
}

function wsText(payload: unknown): Buffer {
  return writeMaskedFrame(1, Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)));
}

test('the gateway: IDENTIFY with the placeholder gets READY; a presence with the placeholder arrives as the placeholder; the open is recorded', async () => {
  const handshake = `GET /?v=10 HTTP/1.1\r\nHost: gw.lab.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n`;
  const identify = wsText({ op: 2, d: { token: 'nanopolicy-placeholder:discord', intents: 513, properties: { os: 'linux' } } });
  // Fragmented presence, split in two frames.
  const presence = Buffer.from(JSON.stringify({ op: 3, d: { status: 'online', activities: [{ name: 'nanopolicy-placeholder:discord' }] } }));
  const f1 = writeMaskedFrame(1, presence.subarray(0, 10));
  f1[0] = 0x01;
  const f2 = writeMaskedFrame(0, presence.subarray(10));
  const text = await vm(doors.gw!, 'gw.lab.test', [handshake, identify, f1, f2], 1000);
  assert.match(text, /^HTTP\/1\.1 101/);
  let frames = Buffer.from(text.slice(text.indexOf('\r\n\r\n') + 4), 'latin1');
  const replies: string[] = [];
  for (let f = readFrame(frames); f !== 'more' && !('problem' in f); f = readFrame(frames)) {
    frames = frames.subarray(f.raw.length);
    replies.push(f.payload.toString());
  }
  assert.equal(replies.map((r) => JSON.parse(r).t ?? JSON.parse(r).op), [10, 'READY', 'ECHO']);
  const log = readFileSync(join(dir, 'gw.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.is(log.find((l) => l.kind === 'open').offeredExtensions, null);
  assert.is(log.find((l) => l.kind === 'identify').authorized, true);
  const message = log.find((l) => l.kind === 'message');
  assert.is(message.leaked, false);
  assert.ok(message.received.includes('nanopolicy-placeholder:discord'));
  assert.ok(audit.some((r) => r.kind === 'websocket-open' && r.rule === 'gateway'));
  assert.ok(audit.some((r) => r.kind === 'websocket-close' && r.tokensInjected === 1));
});

test('nothing the VM received, no audit record and no server log holds a secret', () => {
  const all = Buffer.concat(vmBytes);
  assert.ok(all.length > 1000);
  for (const secret of [SECRET, TOKEN]) {
    assert.is(all.indexOf(secret), -1);
    assert.not.ok(JSON.stringify(audit).includes(secret));
    for (const name of ['api', 'echo', 'gw']) assert.not.ok(readFileSync(join(dir, `${name}.log`), 'utf8').includes(secret), name);
  }
});

// Whatever failed above, no server outlives the suite.
test.after(() => {
  for (const child of children) child.kill();
  for (const server of servers) server.close();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
