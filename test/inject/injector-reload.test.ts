// The injector re-reads its sources (src/inject/injector.ts `reload`): a new value is injected on
// the next tunnel, a source that fails keeps the value read before and is named (never its value),
// and every value ever read stays masked. The real process's SIGHUP and file watch are in
// test/inject/inject-e2e-lab.test.ts.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import * as tls from 'node:tls';
import { testCa } from '../proxy/proxy-harness.ts';
import { createInjector } from '../../src/inject/injector.ts';
import type { InjectConfig } from '../../src/formats/inject-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'np-injector-reload-'));
const file = join(dir, 'secret');
const config: InjectConfig = {
  caDir: dir,
  caNames: ['api.example.test'],
  secrets: [{ name: 'anthropic', source: { kind: 'file', path: file } }],
  rules: [{ name: 'api', headers: [{ header: 'x-api-key', template: '{anthropic}' }] }],
};
const options = { vm: 'unit', ownerUid: process.getuid!(), env: { PATH: '/usr/bin:/bin' }, idleMs: 10_000, upstreamCa: [testCa().certPem] };
const value = () => `sk-lab-${randomBytes(12).toString('hex')}`;

test('reload: a changed file is a new value; an unchanged one is not; a failing source keeps the old value and is named', async () => {
  const first = value();
  writeFileSync(file, `${first}\n`, { mode: 0o600 });
  const injector = await createInjector(config, options);
  assert.equal(injector.files, [file]);
  assert.equal(await injector.reload(), { changed: [], failures: [] });
  const second = value();
  writeFileSync(file, `${second}\n`, { mode: 0o600 });
  assert.equal(await injector.reload(), { changed: ['anthropic'], failures: [] });
  // Readable by others now: refused, so the value stays the one read before.
  chmodSync(file, 0o644);
  const failed = await injector.reload();
  assert.equal(failed.changed, []);
  assert.is(failed.failures.length, 1);
  assert.match(failed.failures[0]!.message, /The secret "anthropic" could not be read/);
  assert.not.ok(JSON.stringify(failed).includes(second) || JSON.stringify(failed).includes(first));
  assert.ok(injector.injects('api'));
});

test('reload: the header the next tunnel sends holds the new value, and both old and new are masked', async () => {
  const first = value();
  writeFileSync(file, first, { mode: 0o600 });
  chmodSync(file, 0o600);
  const injector = await createInjector(config, options);
  const second = value();
  writeFileSync(file, second, { mode: 0o600 });
  await injector.reload();
  // The upstream reflects the request twice over: the VM must see neither value.
  const { sent, received } = await through(injector, `GET /echo HTTP/1.1\r\nHost: api.example.test\r\nx-api-key: placeholder\r\nConnection: close\r\n\r\n`, (up) => `HTTP/1.1 200 OK\r\nContent-Length: ${up.length * 2}\r\nConnection: close\r\n\r\n${up}${up}`);
  assert.ok(sent.includes(`x-api-key: ${second}`), sent);
  assert.not.ok(sent.includes(first));
  assert.not.ok(received.includes(second) || received.includes(first), received);
});

// One request from a VM client through the injector's tunnel to an upstream, over loopback sockets:
// what the upstream got and what the client got.
async function through(injector: Awaited<ReturnType<typeof createInjector>>, request: string, answer: (upstreamSaw: string) => string): Promise<{ sent: string; received: string }> {
  const leaf = testCa().issue({ names: ['api.example.test'] });
  let sent = '';
  const upstreamServer = tls.createServer({ cert: leaf.certPem, key: leaf.keyPem, ALPNProtocols: ['http/1.1'] }, (s) => {
    s.on('data', (d: Buffer) => {
      sent += d.toString('latin1');
      if (sent.includes('\r\n\r\n')) s.end(answer(sent));
    });
  });
  await new Promise<void>((r) => upstreamServer.listen(0, '127.0.0.1', r));
  const relay = createServer();
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const served = new Promise<void>((resolve) => relay.once('connection', (client) => {
    client.once('data', (hello: Buffer) => {
      const upstream = connect((upstreamServer.address() as { port: number }).port, '127.0.0.1');
      upstream.once('connect', () => void injector.run({ client, hello, name: 'api.example.test', port: 443, upstream, rule: 'api', audit: () => {}, stallMs: 30_000 }).finally(resolve));
    });
  }));
  const ca = readFileSync(join(dir, 'proxy-ca.pem'), 'utf8');
  const received = await new Promise<string>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: (relay.address() as { port: number }).port, servername: 'api.example.test', ca, ALPNProtocols: ['http/1.1'] }, () => s.write(request));
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
  await served;
  relay.close();
  upstreamServer.close();
  return { sent, received };
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
