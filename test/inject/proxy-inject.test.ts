// Credential injection through the real egress core, CONNECT door, on loopback (the harness's fake
// resolver and connect hook): the secret is read from an owner-only file at start, the VM's
// client holds the placeholder only and trusts only our CA, the lab API answers; the audit log has
// the tunnel's open record and one record per injected request; nothing the client received, and
// no audit line, holds the secret. A source that fails stops the start with the item's name.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVERS_DIR } from '../lab/start-service.ts';
import { startHarness, testCa, type Harness } from '../proxy/proxy-harness.ts';
import { createInjector } from '../../src/inject/injector.ts';
import type { InjectConfig } from '../../src/formats/inject-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'np-proxy-inject-'));
const SECRET = `sk-lab-${randomBytes(16).toString('hex')}`;
writeFileSync(join(dir, 'secret'), `${SECRET}\n`, { mode: 0o600 });
const leaf = testCa().issue({ names: ['api.example.test'] });
writeFileSync(join(dir, 'cert.pem'), leaf.certPem);
writeFileSync(join(dir, 'key.pem'), leaf.keyPem, { mode: 0o600 });
const children: ChildProcess[] = [];
let harness: Harness | undefined;
const received: Buffer[] = [];

const inject = (secretPath: string): InjectConfig => ({
  caDir: dir,
  caNames: ['api.example.test'],
  secrets: [{ name: 'anthropic', source: { kind: 'file', path: secretPath } }],
  rules: [{ name: 'api', headers: [{ header: 'x-api-key', template: '{anthropic}' }] }],
});
const options = { vm: 'unit', ownerUid: process.getuid!(), env: { PATH: '/usr/bin:/bin' }, idleMs: 10_000, upstreamCa: [testCa().certPem] };

test('a secret source that fails stops the start, naming the item, never the value', async () => {
  try {
    await createInjector(inject(join(dir, 'missing')), options);
    assert.unreachable('started without its secret');
  } catch (error) {
    assert.match((error as Error).message, /The secret "anthropic" could not be read: the file ".*missing" cannot be opened \(ENOENT\)/);
  }
});

test('through the CONNECT door: the API answers the placeholder, records per request, no secret comes back', async () => {
  const api = spawn(process.execPath, [join(SERVERS_DIR, 'inject-api-server.mjs'), JSON.stringify({ name: 'api', address: '127.0.0.1', port: 0, log: join(dir, 'api.log'), tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }, secretFile: join(dir, 'secret'), events: 3, intervalMs: 10 })], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(api);
  const apiPort: number = await new Promise((resolve) => api.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()).port)));
  const injector = await createInjector(inject(join(dir, 'secret')), options);
  harness = await startHarness({ hosts: { 'api.example.test': ['203.0.113.10'] }, upstreamPort: apiPort, deps: { injector }, config: { transparent: [{ listen: { host: '127.0.0.1', port: 0 }, port: 443 }] } });
  const proxyCa = readFileSync(join(dir, 'proxy-ca.pem'), 'utf8');
  const text = await new Promise<string>((resolve, reject) => {
    const raw = connect({ host: '127.0.0.1', port: harness!.proxy.address.port });
    raw.once('connect', () => raw.write('CONNECT api.example.test:443 HTTP/1.1\r\nHost: api.example.test:443\r\n\r\n'));
    raw.once('data', (d: Buffer) => {
      assert.match(d.toString(), /^HTTP\/1\.1 200/);
      const tls = tlsConnect({ socket: raw, servername: 'api.example.test', ca: proxyCa, ALPNProtocols: ['http/1.1'] }, () => {
        tls.write('GET /v1/models HTTP/1.1\r\nHost: api.example.test\r\nx-api-key: nanopolicy-placeholder:anthropic\r\n\r\n');
        tls.write('POST /v1/messages HTTP/1.1\r\nHost: api.example.test\r\nx-api-key: nanopolicy-placeholder:anthropic\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
      });
      const parts: Buffer[] = [];
      tls.on('data', (x: Buffer) => {
        parts.push(x);
        received.push(x);
      });
      tls.on('error', reject);
      tls.on('close', () => resolve(Buffer.concat(parts).toString('latin1')));
      setTimeout(() => tls.destroy(), 3000);
    });
    raw.on('error', reject);
  });
  assert.is(text.match(/HTTP\/1\.1 200/g)?.length, 2, text.slice(0, 200));
  assert.match(text, /lab-model/);
  assert.is(text.match(/event: content_block_delta/g)?.length, 3);
  await new Promise((r) => setTimeout(r, 200));
  const lines = readFileSync(harness.config.auditLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.some((l) => l.event === 'open' && l.reason === 'tunnel opened (credential injection)'));
  assert.equal(lines.filter((l) => l.kind === 'injected-request').map((l) => [l.method, l.path, l.status, l.secrets]), [['GET', '/v1/models', 200, ['anthropic']], ['POST', '/v1/messages', 200, ['anthropic']]]);
  const log = readFileSync(join(dir, 'api.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(log.every((l) => l.authorized === true));
  assert.is(Buffer.concat(received).indexOf(SECRET), -1);
  assert.not.ok(readFileSync(harness.config.auditLog, 'utf8').includes(SECRET));
});

test('through the transparent door (the name from the SNI alone): the same injection, and the door in the open record', async () => {
  const proxyCa = readFileSync(join(dir, 'proxy-ca.pem'), 'utf8');
  const text = await new Promise<string>((resolve, reject) => {
    const tls = tlsConnect({ host: '127.0.0.1', port: harness!.proxy.transparent[0]!.port, servername: 'api.example.test', ca: proxyCa, ALPNProtocols: ['http/1.1'] }, () => {
      tls.write('GET /v1/models HTTP/1.1\r\nHost: api.example.test\r\nx-api-key: nanopolicy-placeholder:anthropic\r\nConnection: close\r\n\r\n');
    });
    const parts: Buffer[] = [];
    tls.on('data', (x: Buffer) => {
      parts.push(x);
      received.push(x);
    });
    tls.on('error', reject);
    tls.on('close', () => resolve(Buffer.concat(parts).toString('latin1')));
    setTimeout(() => tls.destroy(), 3000);
  });
  assert.match(text, /^HTTP\/1\.1 200/);
  assert.match(text, /lab-model/);
  await new Promise((r) => setTimeout(r, 200));
  const lines = readFileSync(harness!.config.auditLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.some((l) => l.event === 'open' && l.door === 'transparent' && l.reason === 'tunnel opened (credential injection)'));
  assert.is(lines.filter((l) => l.kind === 'injected-request').length, 3);
  assert.is(Buffer.concat(received).indexOf(SECRET), -1);
  assert.not.ok(readFileSync(harness!.config.auditLog, 'utf8').includes(SECRET));
});

test.after(async () => {
  for (const c of children) c.kill();
  await harness?.close();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
