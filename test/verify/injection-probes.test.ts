// verify's injection probes (src/verify/inside/injection.ts) against the real egress core with
// credential injection, on loopback (the proxy harness's fake resolver; every connect routed by
// the address the resolver gave): the lab API accepts the placeholder only because the proxy put
// the secret in; a listed name without injection is end to end and echoes the placeholder
// unchanged. Then the attacks: a proxy holding the wrong secret, a name the proxy terminates
// though the policy does not inject on it, no CA from the host — each a failed row, never a pass.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import https from 'node:https';
import { connect } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVERS_DIR } from '../lab/start-service.ts';
import { startHarness, testCa, type Harness } from '../proxy/proxy-harness.ts';
import { createInjector } from '../../src/inject/injector.ts';
import { compilePolicy } from '../../src/compiler/compile.ts';
import { buildInjectProbes } from '../../src/compiler/emit/inject-probes.ts';
import { injectionProbes } from '../../src/verify/inside/injection.ts';
import { summaryLine } from '../../src/verify/format-report.ts';

const dir = mkdtempSync(join(tmpdir(), 'np-inject-probes-'));
const SECRET = `sk-lab-${randomBytes(16).toString('hex')}`;
writeFileSync(join(dir, 'secret'), `${SECRET}\n`, { mode: 0o600 });
writeFileSync(join(dir, 'wrong'), `sk-wrong-${randomBytes(16).toString('hex')}\n`, { mode: 0o600 });
const leaf = testCa().issue({ names: ['api.example.test', 'echo.example.test'] });
writeFileSync(join(dir, 'cert.pem'), leaf.certPem);
writeFileSync(join(dir, 'key.pem'), leaf.keyPem, { mode: 0o600 });
const children: ChildProcess[] = [];
const harnesses: Harness[] = [];

const policy = compilePolicy({
  file: 'p.policy',
  home: dir,
  cwd: dir,
  source: `vm unit\nsecret anthropic from file ${join(dir, 'secret')} env ANTHROPIC_API_KEY\negress api api.example.test inject x-api-key: {anthropic}\negress echo echo.example.test\n`,
}).policy!;
const inject = buildInjectProbes(policy)!;

async function server(script: string, config: object): Promise<number> {
  const child = spawn(process.execPath, [join(SERVERS_DIR, script), JSON.stringify({ address: '127.0.0.1', port: 0, log: join(dir, `${script}.log`), tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }, ...config })], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()).port)));
}

// A proxy injecting the secret read from `secretFile`; its CA in its own folder.
async function proxyWith(secretFile: string, ports: { api: number; echo: number }, caNames = ['api.example.test'], injectEcho = false): Promise<{ port: number; caPem: string }> {
  const caDir = mkdtempSync(join(dir, 'ca-'));
  const injector = await createInjector({
    caDir,
    caNames,
    secrets: [{ name: 'anthropic', source: { kind: 'file', path: secretFile } }],
    rules: [{ name: 'api', headers: [{ header: 'x-api-key', template: '{anthropic}' }] }, ...(injectEcho ? [{ name: 'echo', headers: [{ header: 'x-api-key', template: '{anthropic}' }] }] : [])],
  }, { vm: 'unit', ownerUid: process.getuid!(), env: { PATH: '/usr/bin:/bin' }, idleMs: 10_000, upstreamCa: [testCa().certPem] });
  const byAddress: Record<string, number> = { '203.0.113.10': ports.api, '203.0.113.11': ports.echo };
  const harness = await startHarness({
    hosts: { 'api.example.test': ['203.0.113.10'], 'echo.example.test': ['203.0.113.11'] },
    upstreamPort: ports.api,
    config: { rules: [{ name: 'api', host: 'api.example.test', port: 443 }, { name: 'echo', host: 'echo.example.test', port: 443 }] },
    deps: { injector, connect: ({ host }) => connect({ host: '127.0.0.1', port: byAddress[host]!, allowHalfOpen: true }) },
  });
  harnesses.push(harness);
  return { port: harness.proxy.address.port, caPem: readFileSync(join(caDir, 'proxy-ca.pem'), 'utf8') };
}

let ports: { api: number; echo: number };
const options = (proxyCaPem?: string) => ({ timeoutMs: 2000, caPem: testCa().certPem, requests: { 'api.example.test': 'GET/v1/models' }, echo: 'echo.example.test:443/echo', ...(proxyCaPem ? { proxyCaPem } : {}) });

test('the manifest: the injected name with its placeholder header, the plain name, every placeholder', () => {
  assert.equal(inject.requests, [{ rule: 'api', host: 'api.example.test', port: 443, headers: [{ name: 'x-api-key', value: 'nanopolicy-placeholder:anthropic' }] }]);
  assert.equal(inject.plain, [{ rule: 'echo', host: 'echo.example.test', port: 443 }]);
  assert.equal(inject.placeholders, ['nanopolicy-placeholder:anthropic']);
});

test('a sound proxy: the API accepts the placeholder, the plain name is end to end, the echo returns the placeholder unchanged', async () => {
  ports = { api: await server('inject-api-server.mjs', { name: 'api', secretFile: join(dir, 'secret') }), echo: await server('inject-echo-server.mjs', { name: 'echo' }) };
  const proxy = await proxyWith(join(dir, 'secret'), ports);
  const rows = await injectionProbes(inject, { host: '127.0.0.1', port: proxy.port }, options(proxy.caPem));
  assert.equal(rows.map((r) => [r.probe, r.measured, r.ok]), [
    ['GET https://api.example.test/v1/models (api) with the placeholder', '200', true],
    ['echo.example.test:443 (echo) not injected, end to end', rows[1]!.measured, true],
    ['placeholders to echo.example.test:443/echo (not injected)', 'unchanged', true],
  ], JSON.stringify(rows, null, 1));
  assert.match(rows[1]!.measured, /^another CA's/);
  assert.not.match(JSON.stringify(rows), SECRET);
});

test('attacks: the wrong secret fails (401); a name the proxy terminates without a policy injection fails; no CA is NOT RUN; no request for the name is NOT RUN', async () => {
  const wrong = await proxyWith(join(dir, 'wrong'), ports);
  const rows = await injectionProbes(inject, { host: '127.0.0.1', port: wrong.port }, options(wrong.caPem));
  assert.is(rows[0]!.measured, '401');
  assert.not.ok(rows[0]!.ok);
  assert.match(rows[0]!.detail!, 'the upstream refused the credential (401)');
  // The proxy injects on echo.example.test too, though the policy (the manifest) says it is plain.
  const rogue = await proxyWith(join(dir, 'secret'), ports, ['api.example.test', 'echo.example.test'], true);
  const rogueRows = await injectionProbes(inject, { host: '127.0.0.1', port: rogue.port }, options(rogue.caPem));
  const plain = rogueRows.find((r) => r.probe.includes('end to end'))!;
  assert.is(plain.measured, "OUR CA'S CERTIFICATE");
  assert.not.ok(plain.ok);
  const echoRow = rogueRows.find((r) => r.probe.startsWith('placeholders'))!;
  // Terminated by our CA, which the echo probe does not trust: never a pass, whatever came back.
  assert.not.ok(echoRow.ok);
  assert.match(echoRow.measured, /^(NOT RUN|CHANGED)/);
  const noCa = await injectionProbes(inject, { host: '127.0.0.1', port: wrong.port }, { ...options(), proxyCaPem: undefined } as never);
  assert.ok(noCa.slice(0, 2).every((r) => !r.ok && r.measured === 'NOT RUN'));
  const noRequest = await injectionProbes(inject, { host: '127.0.0.1', port: wrong.port }, { timeoutMs: 2000, proxyCaPem: wrong.caPem });
  assert.is(noRequest[0]!.measured, 'NOT RUN');
  assert.match(noRequest[0]!.detail!, '--inject-request api.example.test=GET/PATH');
});

// The gateway: a WebSocket through the injecting layer, HELLO read, no token sent; the wildcard not
// probed (and not counted correct). Then gateways that lie: a 101 that answers another key, a first
// frame that is not HELLO, a plain HTTP answer.
const botPolicy = compilePolicy({
  file: 'p.policy',
  home: dir,
  cwd: dir,
  source: `vm unit\nsecret bot from file ${join(dir, 'secret')} env BOT_TOKEN\negress rest rest.example.test inject authorization: Bot {bot}\negress gateway gw.example.test websocket-token {bot}\negress wild *.wild.example.test inject x-api-key: {bot}\n`,
}).policy!;
const botInject = buildInjectProbes(botPolicy)!;

// A TLS server for gw.example.test that answers an upgrade as `mode` says.
async function fakeGateway(mode: 'bad-accept' | 'no-hello' | 'no-upgrade'): Promise<number> {
  const gwLeaf = testCa().issue({ names: ['gw.example.test'] });
  const server = https.createServer({ cert: gwLeaf.certPem, key: gwLeaf.keyPem }, (_request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end('not a gateway\n');
  });
  if (mode !== 'no-upgrade') {
    server.on('upgrade', (request, socket) => {
      const key = String(request.headers['sec-websocket-key']);
      const accept = createHash('sha1').update(`${mode === 'bad-accept' ? 'another key' : key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      const body = Buffer.from(JSON.stringify({ op: mode === 'no-hello' ? 0 : 10, d: {} }));
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      socket.write(Buffer.concat([Buffer.from([0x81, body.length]), body]));
    });
  }
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}
const servers: https.Server[] = [];

async function gatewayProxy(gatewayPort: number): Promise<{ port: number; caPem: string }> {
  const caDir = mkdtempSync(join(dir, 'ca-'));
  const injector = await createInjector({
    caDir,
    caNames: ['gw.example.test', 'rest.example.test', 'wild.example.test'],
    secrets: [{ name: 'bot', source: { kind: 'file', path: join(dir, 'secret') } }],
    rules: [{ name: 'gateway', headers: [], websocketToken: 'bot' }],
  }, { vm: 'unit', ownerUid: process.getuid!(), env: { PATH: '/usr/bin:/bin' }, idleMs: 10_000, upstreamCa: [testCa().certPem] });
  const harness = await startHarness({
    hosts: { 'gw.example.test': ['203.0.113.12'] },
    upstreamPort: gatewayPort,
    config: { rules: [{ name: 'gateway', host: 'gw.example.test', port: 443 }] },
    deps: { injector, connect: () => connect({ host: '127.0.0.1', port: gatewayPort, allowHalfOpen: true }) },
  });
  harnesses.push(harness);
  return { port: harness.proxy.address.port, caPem: readFileSync(join(caDir, 'proxy-ca.pem'), 'utf8') };
}

test('the gateway manifest: a WebSocket probe proven by the HTTP name with the same secret; the wildcard unprobed', () => {
  assert.equal(botInject.websockets, [{ rule: 'gateway', host: 'gw.example.test', port: 443, path: '/', secret: 'bot', provenBy: 'rest.example.test' }]);
  assert.equal(botInject.unprobed.map((u) => u.host), ['*.wild.example.test']);
  assert.equal(botInject.requests.map((r) => r.host), ['rest.example.test']);
});

test('a gateway through the injecting layer: 101 and HELLO, no token sent; the wildcard row is not probed and not counted correct', async () => {
  const log = join(dir, 'gateway.log');
  const gwLeaf = testCa().issue({ names: ['gw.example.test'] });
  writeFileSync(join(dir, 'gw-cert.pem'), gwLeaf.certPem);
  writeFileSync(join(dir, 'gw-key.pem'), gwLeaf.keyPem, { mode: 0o600 });
  const child = spawn(process.execPath, [join(SERVERS_DIR, 'inject-gateway-server.mjs'), JSON.stringify({ name: 'gateway', address: '127.0.0.1', port: 0, log, tls: { cert: join(dir, 'gw-cert.pem'), key: join(dir, 'gw-key.pem') }, secretFile: join(dir, 'secret') })], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const gatewayPort = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()).port)));
  const proxy = await gatewayProxy(gatewayPort);
  const only = { ...botInject, requests: [] };
  const rows = await injectionProbes(only, { host: '127.0.0.1', port: proxy.port }, { timeoutMs: 2000, proxyCaPem: proxy.caPem });
  const gw = rows.find((r) => r.probe.startsWith('wss://gw.example.test/'))!;
  assert.is(gw.measured, '101, HELLO', JSON.stringify(rows, null, 1));
  assert.ok(gw.ok);
  assert.match(gw.detail!, 'proven by the request to rest.example.test');
  const wild = rows.find((r) => r.probe.startsWith('*.wild.example.test'))!;
  assert.equal([wild.ok, wild.probed, wild.measured], [true, false, 'not probed']);
  assert.is(summaryLine(rows), '0 wrong, 1 correct, 1 not probed');
  // The server saw the WebSocket open and no IDENTIFY or RESUME: the probe logged no bot in.
  const seen = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string });
  assert.ok(seen.some((l) => l.kind === 'open'));
  assert.not.ok(seen.some((l) => l.kind === 'identify' || l.kind === 'resume'), JSON.stringify(seen));
});

test('gateways that lie: a 101 for another key, a first frame that is not HELLO, no upgrade at all — each a failed row', async () => {
  const only = { ...botInject, requests: [], unprobed: [] };
  const cases: Array<['bad-accept' | 'no-hello' | 'no-upgrade', string]> = [['bad-accept', '101, wrong accept'], ['no-hello', '101, first frame opcode 1, op 0'], ['no-upgrade', '200']];
  for (const [mode, measured] of cases) {
    const proxy = await gatewayProxy(await fakeGateway(mode));
    const rows = await injectionProbes(only, { host: '127.0.0.1', port: proxy.port }, { timeoutMs: 2000, proxyCaPem: proxy.caPem });
    assert.equal(rows.map((r) => [r.measured, r.ok]), [[measured, false]], `${mode}: ${JSON.stringify(rows)}`);
  }
  // Without the host's CA the injected TLS cannot be told from any other: NOT RUN, a failure.
  const rows = await injectionProbes(only, { host: '127.0.0.1', port: 1 }, { timeoutMs: 500 });
  assert.equal(rows.map((r) => [r.measured, r.ok]), [['NOT RUN', false]]);
});

test.after(async () => {
  for (const s of servers) s.close();
  for (const c of children) c.kill();
  for (const h of harnesses) await h.close();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
