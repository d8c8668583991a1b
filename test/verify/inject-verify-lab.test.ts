// `nanopolicy verify` with credential injection, end to end in the namespace lab: a policy whose
// secret is an owner-only file, compiled and enforced (nft) with the real proxy, a lab API in
// "the internet" that answers only the real secret, and a reflecting server on a name without
// injection. verify is green: the CA and the source on the host, the placeholder accepted through
// the proxy from the VM, the plain name end to end, the placeholder echoed unchanged, and the
// proxy's audit log backing every attempt (the injection probes' included). Then the CA key is
// left readable by others, and verify fails on that row alone.

import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as assert from 'uvu/assert';
import { suite } from 'uvu';
import { cliArgs } from '../helpers/cli-process.ts';
import { createLab, requireLab, type Lab } from '../lab/index.ts';
import { startServerScript, type RunningService } from '../lab/start-service.ts';
import { buildProbe } from './lab-setup.ts';

const available = requireLab('verify: credential injection in the lab');
const ROOT = join(import.meta.dirname, '../..');
const API = '203.0.113.30';
const ECHO = '203.0.113.31';
const GATEWAY = '203.0.113.32';
const NAMES = { api: 'api.inject.test', echo: 'echo.inject.test', gateway: 'gw.inject.test' };
const SECRET = `sk-lab-${randomBytes(18).toString('hex')}`;

const t = suite('verify: credential injection (lab)');
let lab: Lab;
let home: string;
const services: RunningService[] = [];

t.before(async () => {
  await buildProbe();
  lab = await createLab({ wanAddresses: [API, ECHO, GATEWAY], hostHosts: { [NAMES.api]: API, [NAMES.echo]: ECHO, [NAMES.gateway]: GATEWAY } });
  home = join(lab.dir, 'home');
  mkdirSync(join(home, '.config/nanopolicy'), { recursive: true, mode: 0o700 });
  const leaf = lab.issueCert({ names: [NAMES.api, NAMES.echo, NAMES.gateway] });
  writeFileSync(join(lab.dir, 'leaf.pem'), leaf.certPem);
  writeFileSync(join(lab.dir, 'leaf-key.pem'), leaf.keyPem, { mode: 0o600 });
  writeFileSync(join(home, '.config/nanopolicy/lab.secret'), `${SECRET}\n`, { mode: 0o600 });
  // The API's own copy of the secret (it checks x-api-key against it), outside the owner's config.
  writeFileSync(join(lab.dir, 'api.secret'), `${SECRET}\n`, { mode: 0o600 });
  const tlsFiles = { cert: join(lab.dir, 'leaf.pem'), key: join(lab.dir, 'leaf-key.pem') };
  services.push(await startServerScript(lab.ns.wan, 'inject-api-server.mjs', { name: 'api', address: API, port: 443, log: join(lab.dir, 'api.log'), tls: tlsFiles, secretFile: join(lab.dir, 'api.secret') }));
  services.push(await startServerScript(lab.ns.wan, 'inject-echo-server.mjs', { name: 'echo', address: ECHO, port: 443, log: join(lab.dir, 'echo.log'), tls: tlsFiles }));
  services.push(await startServerScript(lab.ns.wan, 'inject-gateway-server.mjs', { name: 'gateway', address: GATEWAY, port: 443, log: join(lab.dir, 'gateway.log'), tls: tlsFiles, secretFile: join(lab.dir, 'api.secret') }));
});
t.after(async () => {
  for (const s of services) s.child.kill();
  await lab?.teardown();
});

// The proxy trusts the lab's CA for the upstreams the way any Node program does (NODE_EXTRA_CA_CERTS).
const env = () => ({ PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: home, NO_COLOR: '1', NODE_EXTRA_CA_CERTS: lab.ca.path });
async function np(args: string[], timeoutMs = 90_000) {
  return lab.exec('host', ['node', ...(await cliArgs()), ...args], { cwd: ROOT, env: env(), timeoutMs });
}

t('compile → enforce → verify: the placeholder works through the proxy, the plain name is end to end, the host checks hold', async () => {
  const policy = join(home, '.config/nanopolicy/nanoclaw.policy');
  writeFileSync(policy, `vm lab-vm
secret lab from file ~/.config/nanopolicy/lab.secret env LAB_KEY
egress api ${NAMES.api} inject x-api-key: {lab}
egress gateway ${NAMES.gateway} websocket-token {lab}
egress wild *.wild.inject.test inject x-api-key: {lab}
egress echo ${NAMES.echo}
`);
  const out = join(home, '.config/nanopolicy/out');
  const compile = await np(['compile', policy, '-o', out, '--user', 'owner']);
  assert.is(compile.exitCode, 0, compile.stderr);
  assert.match(readFileSync(join(out, 'proxy.env'), 'utf8'), 'LAB_KEY=nanopolicy-placeholder:lab');
  const stateDir = join(lab.dir, 'state');
  const enforce = await np(['enforce', policy, '--backend', 'nft', '--vm-address', lab.vmAddress, '--state-dir', stateDir, '--wait', '5']);
  assert.is(enforce.exitCode, 0, `${enforce.stdout}\n${enforce.stderr}`);
  const verifyArgs = [
    'verify', policy, '--backend', 'nft', '--state-dir', stateDir, '--exec', `ip netns exec ${lab.ns.vm}`, '--ca', lab.ca.path,
    '--inject-request', `${NAMES.api}=GET/v1/models`, '--inject-echo', `${NAMES.echo}:443/echo`,
    '--skip', 'icmp,gateway,mounts,dns,egress,bridges,direct,hosts', '--timeout', '400', '--budget', '60000', '--json',
  ];
  const verify = await np(verifyArgs);
  const report = JSON.parse(verify.stdout) as { notProbed: number; results: Array<{ ok: boolean; probe: string; measured: string; detail?: string; probed?: false }> };
  const wrong = report.results.filter((r) => !r.ok).map((r) => `${r.probe}: ${r.detail ?? r.measured}`);
  assert.equal(wrong, [], wrong.join('\n'));
  assert.is(verify.exitCode, 0);
  const row = (probe: string) => report.results.find((r) => r.probe.startsWith(probe));
  assert.is(row(`GET https://${NAMES.api}/v1/models (api) with the placeholder`)?.measured, '200');
  assert.match(row(`${NAMES.echo}:443 (echo) not injected`)!.measured, /^another CA's/);
  assert.is(row(`placeholders to ${NAMES.echo}`)?.measured, 'unchanged');
  assert.is(row('secret "lab" from file')?.measured, 'readable, ≥ 8 characters');
  assert.match(row('proxy CA refused outside its names')!.measured, /permitted subtree violation/);
  // The gateway: a WebSocket through the layer and its HELLO, no token sent; the proxy logged it,
  // and the injected request with the upstream's 200 (the host's evidence, not the VM's word).
  assert.is(row(`wss://${NAMES.gateway}/ (gateway) through the injecting layer`)?.measured, '101, HELLO');
  assert.is(row(`audit log: GET ${NAMES.api}/v1/models injected`)?.measured, 'logged, 200');
  assert.is(row(`audit log: WebSocket to ${NAMES.gateway} opened`)?.measured, 'logged');
  const gatewaySeen = readFileSync(join(lab.dir, 'gateway.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string });
  assert.not.ok(gatewaySeen.some((l) => l.kind === 'identify' || l.kind === 'resume'), 'verify logged the bot in');
  // The wildcard, in the proxy rows and the injection rows: not probed, and not counted correct.
  assert.equal(report.results.filter((r) => r.probed === false).map((r) => r.probe).sort(), ['*.wild.inject.test (wild) with the placeholder', '*.wild.inject.test:443 (wild) through the proxy']);
  assert.is(report.notProbed, 2);
  assert.not.ok(verify.stdout.includes(SECRET), 'verify printed the secret');
  const api = readFileSync(join(lab.dir, 'api.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { authorized: boolean });
  assert.ok(api.length > 0 && api.every((l) => l.authorized), 'the API saw the real key on every request');

  // The CA key left readable by others (a careless copy, a backup tool): verify's host row names it.
  const key = join(stateDir, 'proxy-ca-key.pem');
  chmodSync(key, 0o644);
  const open = await np(verifyArgs);
  const failed = (JSON.parse(open.stdout) as typeof report).results.filter((r) => !r.ok);
  assert.equal(failed.map((r) => r.probe), [`proxy CA key ${key}`], JSON.stringify(failed, null, 1));
  assert.is(open.exitCode, 2);
  chmodSync(key, 0o600);

  const down = await np(['enforce', '--down', policy, '--backend', 'nft', '--state-dir', stateDir]);
  assert.is(down.exitCode, 0, down.stderr);
});

if (available) t.run();
