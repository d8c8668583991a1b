// The lab's injection servers (test/lab/servers/inject-*.mjs), run on loopback: the API answers
// only the real key and streams events, the gateway accepts IDENTIFY/RESUME only with the real
// token, the echo server reflects everything. Their logs never hold the secret. (The end-to-end
// tests through the proxy build on them.)

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLabCa } from '../lab/lab-ca.ts';
import { SERVERS_DIR } from '../lab/start-service.ts';
import { readFrame, writeMaskedFrame } from '../../src/inject/websocket/frame.ts';

const dir = mkdtempSync(join(tmpdir(), 'np-inject-servers-'));
const SECRET = `sk-lab-${randomBytes(16).toString('hex')}`;
const PLACEHOLDER = 'nanopolicy-placeholder:lab';
writeFileSync(join(dir, 'secret'), `${SECRET}\n`, { mode: 0o600 });
const ca = createLabCa('inject-servers');
const leaf = ca.issue({ names: ['api.lab.test', 'gw.lab.test', 'echo.lab.test'] });
writeFileSync(join(dir, 'cert.pem'), leaf.certPem);
writeFileSync(join(dir, 'key.pem'), leaf.keyPem, { mode: 0o600 });
const children: ChildProcess[] = [];

// Starts a server script on 127.0.0.1, port chosen by the system; resolves with its port.
function start(script: string, name: string, extra: Record<string, unknown> = {}): Promise<number> {
  const config = { name, address: '127.0.0.1', port: 0, log: join(dir, `${name}.log`), tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }, secretFile: join(dir, 'secret'), ...extra };
  const child = spawn(process.execPath, [join(SERVERS_DIR, script), JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString().split('\n')[0]!).port));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

function get(port: number, servername: string, path: string, headers: Record<string, string>, method = 'GET'): Promise<{ status: number; body: string; headers: Record<string, unknown>; chunks: number[] }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, servername, path, method, headers: { host: servername, ...headers }, ca: ca.certPem, agent: false }, (res) => {
      const parts: Buffer[] = [];
      const chunks: number[] = [];
      res.on('data', (d: Buffer) => {
        parts.push(d);
        chunks.push(Date.now());
      });
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(parts).toString('latin1'), headers: res.headers, chunks }));
    });
    req.on('error', reject);
    req.end(method === 'POST' ? '{}' : undefined);
  });
}

let apiPort = 0;
let echoPort = 0;
let gwPort = 0;

test('start the three servers', async () => {
  [apiPort, echoPort, gwPort] = await Promise.all([
    start('inject-api-server.mjs', 'api', { events: 4, intervalMs: 30 }),
    start('inject-echo-server.mjs', 'echo', { chunked: true, chunkBytes: 5 }),
    start('inject-gateway-server.mjs', 'gw'),
  ]);
});

test('API: 401 for the placeholder, 200 for the secret, server-sent events spread over time', async () => {
  assert.is((await get(apiPort, 'api.lab.test', '/v1/models', { 'x-api-key': PLACEHOLDER })).status, 401);
  assert.is((await get(apiPort, 'api.lab.test', '/v1/models', { 'x-api-key': SECRET })).status, 200);
  const stream = await get(apiPort, 'api.lab.test', '/v1/messages', { 'x-api-key': SECRET, 'content-type': 'application/json' }, 'POST');
  assert.is(stream.status, 200);
  assert.is(stream.body.match(/event: content_block_delta/g)?.length, 4);
  assert.ok(stream.chunks.at(-1)! - stream.chunks[0]! >= 60, 'events arrived at once');
});

test('echo: every header comes back as a header and in the body, across small chunks', async () => {
  const r = await get(echoPort, 'echo.lab.test', '/anything?q=1', { 'x-api-key': PLACEHOLDER });
  assert.is(r.headers['x-echo-x-api-key'], PLACEHOLDER);
  assert.ok(r.body.includes(`x-api-key: ${PLACEHOLDER}`));
  assert.ok(r.body.includes(`"x-api-key":"${PLACEHOLDER}"`));
});

// Opens a WebSocket to the gateway, sends text messages, returns the server's text replies and
// close code (if any) after a short while.
function gateway(messages: string[], extensions = false): Promise<{ replies: string[]; close?: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: gwPort, servername: 'gw.lab.test', ca: ca.certPem }, () => {
      socket.write(`GET /?v=10 HTTP/1.1\r\nHost: gw.lab.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n${extensions ? 'Sec-WebSocket-Extensions: permessage-deflate\r\n' : ''}\r\n`);
      for (const m of messages) socket.write(writeMaskedFrame(1, Buffer.from(m)));
    });
    let data = Buffer.alloc(0);
    const replies: string[] = [];
    let close: number | undefined;
    socket.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      const end = data.indexOf('\r\n\r\n');
      if (end !== -1 && data.subarray(0, 12).toString() === 'HTTP/1.1 101') data = data.subarray(end + 4);
      for (let f = readFrame(data); f !== 'more' && !('problem' in f); f = readFrame(data)) {
        data = data.subarray(f.raw.length);
        if (f.opcode === 8) close = f.payload.readUInt16BE(0);
        else replies.push(f.payload.toString());
      }
    });
    socket.on('error', reject);
    setTimeout(() => {
      socket.destroy();
      resolve({ replies, ...(close !== undefined ? { close } : {}) });
    }, 300);
  });
}

test('gateway: HELLO, then READY only for the real token; RESUMED likewise; 4004 for the placeholder', async () => {
  const good = await gateway([JSON.stringify({ op: 2, d: { token: SECRET, intents: 1 } })]);
  assert.equal(good.replies.map((r) => JSON.parse(r).op), [10, 0]);
  assert.is(JSON.parse(good.replies[1]!).t, 'READY');
  const resume = await gateway([JSON.stringify({ op: 6, d: { token: SECRET, session_id: 'lab-session', seq: 1 } })]);
  assert.is(JSON.parse(resume.replies[1]!).t, 'RESUMED');
  const bad = await gateway([JSON.stringify({ op: 2, d: { token: PLACEHOLDER } })]);
  assert.is(bad.close, 4004);
});

test('gateway: other messages are logged as received; a token anywhere else is flagged as leaked; extension offers are logged', async () => {
  await gateway([JSON.stringify({ op: 3, d: { status: PLACEHOLDER } }), JSON.stringify({ op: 3, d: { status: SECRET } })], true);
  const lines = readFileSync(join(dir, 'gw.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const messages = lines.filter((l) => l.kind === 'message');
  assert.equal(messages.map((m) => m.leaked), [false, true]);
  assert.ok(messages[0].received.includes(PLACEHOLDER));
  assert.is(lines.filter((l) => l.kind === 'open').at(-1).offeredExtensions, 'permessage-deflate');
});

test('no log holds the secret', () => {
  for (const name of ['api', 'echo', 'gw']) assert.not.ok(readFileSync(join(dir, `${name}.log`), 'utf8').includes(SECRET), name);
});

// Whatever failed above, no server outlives the suite.
test.after(() => {
  for (const child of children) child.kill();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
