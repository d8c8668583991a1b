// verify's injection probes (src/verify/inside/injection.ts) against the real egress core with
// credential injection, on loopback (the proxy harness's fake resolver; every connect routed by
// the address the resolver gave): the lab API accepts the placeholder only because the proxy put
// the secret in; a listed name without injection is end to end and echoes the placeholder
// unchanged. Then the attacks: a proxy holding the wrong secret, a name the proxy terminates
// though the policy does not inject on it, no CA from the host — each a failed row, never a pass.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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

test.after(async () => {
  for (const c of children) c.kill();
  for (const h of harnesses) await h.close();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
