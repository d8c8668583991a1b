// Credential injection end to end, as root, in the lab's namespaces (issue 23): the real proxy
// process, started by the real `nanopolicy enforce --backend nft --supervise`, reads two secrets
// from owner-only files outside every share and injects them for the lab's Anthropic API
// (x-api-key), Discord REST (authorization: Bot …) and gateway (IDENTIFY/RESUME d.token), whose
// servers answer only the real values. The VM holds proxy.env's placeholders only and trusts our
// CA (plus the lab's, for the name tunnelled end to end). Every byte the VM's clients received is
// recorded inside the client (record-bytes.mjs: each socket's data, after TLS) and searched for the
// secrets; at the end so is every log, state file, argv and environment on the machine.
// Then: the echo server reflects what it got and the VM still never sees a secret; a placeholder
// anywhere but the injected field arrives as the placeholder; the refusals that need the real
// doors (smuggling, Host, HTTP/2, SNI) go through them; a changed or broken secret file, and the
// supervisor's SIGHUP, re-read the sources; killing the proxy mid-stream loses no audit record and
// the restarted proxy injects again.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliArgs } from '../helpers/cli-process.ts';
import { currentNode } from '../helpers/current-node.ts';
import { createLab, requireLab, type Lab } from '../lab/index.ts';
import { startServerScript, type RunningService } from '../lab/start-service.ts';
import { proxyLogPath } from '../../src/formats/enforce-state.ts';

const available = requireLab('credential injection end-to-end tests');
const ROOT = join(import.meta.dirname, '../..');
const CLIENTS = join(ROOT, 'test/fixtures/clients');
const CLI = await cliArgs();
const APIS = '203.0.113.20';
const ECHO = '203.0.113.21';
const PORT = 13128;
const HOSTS: Record<string, string> = { 'api.anthropic.test': APIS, 'discord.test': APIS, 'gateway.discord.test': APIS, 'echo.test': ECHO, 'plain.test': ECHO };
// Random per run, so finding one anywhere can only mean it leaked; never on a command line here.
let anthropic = `sk-ant-lab-${randomBytes(18).toString('hex')}`;
const discord = `MTlab.${randomBytes(24).toString('base64url')}`;
// The echo name's secret comes from a command (`cat FILE`): only the supervisor's SIGHUP re-reads it.
let echoSecret = `echo-lab-${randomBytes(10).toString('hex')}`;
const oldValues: string[] = [];

const t = suite('credential injection end to end (lab, real proxy, real clients)');
let lab: Lab;
let policyFile: string;
let stateDir: string;
let apisLog: string;
let secretDir: string;
let vmCa: string;
let recordDir: string;
let recordings = 0;
let supervisor: ReturnType<Lab['spawn']>;
let supervisorOut = '';
let proxyEnv: Record<string, string> = {};
const services: RunningService[] = [];
let nodes: Array<[label: string, path: string]>;
const table: Record<string, Record<string, string>> = {};

t.before(async () => {
  nodes = [[`Node ${process.versions.node}`, process.execPath], [`Node ${currentNode().match(/node-([\d.]+)/)![1]}`, currentNode()]];
  lab = await createLab({ wanAddresses: [APIS, ECHO], hostHosts: HOSTS });
  const cert = lab.issueCert({ names: Object.keys(HOSTS) });
  const certDir = join(lab.dir, 'certs');
  mkdirSync(certDir, { recursive: true });
  writeFileSync(join(certDir, 'cert.pem'), cert.certPem);
  writeFileSync(join(certDir, 'key.pem'), cert.keyPem, { mode: 0o600 });
  secretDir = join(lab.dir, 'secrets');
  mkdirSync(secretDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(secretDir, 'anthropic'), `${anthropic}\n`, { mode: 0o600 });
  writeFileSync(join(secretDir, 'discord'), `${discord}\n`, { mode: 0o600 });
  writeFileSync(join(secretDir, 'echo'), `${echoSecret}\n`, { mode: 0o600 });
  apisLog = join(lab.dir, 'apis.jsonl');
  services.push(await startServerScript(lab.ns.wan, 'chat-apis.mjs', {
    name: 'apis', address: APIS, port: 443, log: apisLog, certPem: cert.certPem, keyPem: cert.keyPem, gateway: 'gateway.discord.test',
    secretFiles: { anthropic: join(secretDir, 'anthropic'), discord: join(secretDir, 'discord') },
  }));
  services.push(await startServerScript(lab.ns.wan, 'inject-echo-server.mjs', {
    name: 'echo', address: ECHO, port: 443, log: join(lab.dir, 'echo.jsonl'), tls: { cert: join(certDir, 'cert.pem'), key: join(certDir, 'key.pem') }, chunked: true, chunkBytes: 5,
  }));
  lab.setResolvers('vm', [lab.gateway]);
  const dir = join(lab.dir, 'policy');
  mkdirSync(dir, { recursive: true });
  policyFile = join(dir, 'inject.policy');
  stateDir = join(lab.dir, 'state');
  writeFileSync(policyFile, [
    'vm inject-vm',
    `proxy via ${PORT}`,
    `secret anthropic from file ${join(secretDir, 'anthropic')} env ANTHROPIC_API_KEY`,
    `secret discord from file ${join(secretDir, 'discord')} env DISCORD_TOKEN`,
    `secret echo from command "cat ${join(secretDir, 'echo')}" env ECHO_KEY`,
    'egress claude api.anthropic.test inject x-api-key: {anthropic}',
    'egress discord discord.test inject authorization: Bot {discord}',
    'egress gateway gateway.discord.test websocket-token {discord}',
    'egress echo echo.test inject x-api-key: {echo}',
    'egress plain plain.test',
    '',
  ].join('\n'));
  // What the VM gets: compile's proxy.env (placeholders, proxy variables), never a value.
  const compiled = await cli(['compile', policyFile, '-o', join(lab.dir, 'out'), '--home', lab.dir]);
  assert.is(compiled.exitCode, 0, compiled.stderr);
  proxyEnv = Object.fromEntries(readFileSync(join(lab.dir, 'out/proxy.env'), 'utf8').split('\n').filter((l) => /^[A-Z_a-z]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  assert.is(proxyEnv.ANTHROPIC_API_KEY, 'nanopolicy-placeholder:anthropic');
  assert.is(proxyEnv.DISCORD_TOKEN, 'nanopolicy-placeholder:discord');
  // The proxy verifies the lab's servers against the host's trust store; the lab CA is in it here.
  supervisor = lab.spawn('host', ['node', ...CLI, 'enforce', policyFile, '--backend', 'nft', '--vm-address', lab.vmAddress, '--state-dir', stateDir, '--home', lab.dir, '--wait', '5', '--supervise', '--interval', '2'], {
    cwd: ROOT, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: lab.dir, NO_COLOR: '1', NODE_EXTRA_CA_CERTS: lab.ca.path }, extendEnv: false, all: true, buffer: false,
  });
  supervisor.all?.on('data', (d: Buffer) => (supervisorOut += d.toString()));
  for (let waited = 0; !/in force/.test(supervisorOut); waited += 100) {
    if (waited > 30_000 || supervisor.exitCode !== null) throw new Error(`enforce --supervise did not say "in force": ${supervisorOut}`);
    await sleep(100);
  }
  vmCa = join(lab.dir, 'vm-ca.pem');
  writeFileSync(vmCa, readFileSync(join(stateDir, 'proxy-ca.pem'), 'utf8') + readFileSync(lab.ca.path, 'utf8'));
  recordDir = join(lab.dir, 'vm-received');
  mkdirSync(recordDir, { recursive: true });
});

t.after(async () => {
  if (Object.keys(table).length > 0) {
    const columns = [...new Set(Object.values(table).flatMap((row) => Object.keys(row)))];
    process.stderr.write(`\nclient × door, measured (lab, credential injection, VM holding placeholders):\n| client | ${columns.join(' | ')} |\n|---|${columns.map(() => '---').join('|')}|\n`);
    for (const [client, row] of Object.entries(table)) process.stderr.write(`| ${client} | ${columns.map((c) => row[c] ?? '—').join(' | ')} |\n`);
  }
  if (supervisor?.pid !== undefined && supervisor.exitCode === null) {
    supervisor.kill('SIGTERM');
    await Promise.race([supervisor, sleep(15_000)]);
  }
  for (const s of services) s.child.kill();
  await lab?.teardown();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cli(args: string[]) {
  return lab.exec('host', ['node', ...CLI, ...args], { cwd: ROOT, timeoutMs: 60_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: lab.dir, NO_COLOR: '1' } });
}

// Runs a client in the VM with the placeholders and our CA, everything it receives recorded;
// `door: 'connect'` adds proxy.env's proxy variables (as the VM's shell would have them).
async function vm(node: string, script: string, args: string[], door: 'transparent' | 'connect' = 'transparent', timeoutMs = 30_000): Promise<Record<string, unknown> & { ok: boolean }> {
  const proxyVars = Object.fromEntries(Object.entries(proxyEnv).filter(([k]) => /proxy/i.test(k)));
  const r = await lab.exec('vm', [node, '--import', join(CLIENTS, 'record-bytes.mjs'), join(CLIENTS, script), ...args], {
    cwd: ROOT, timeoutMs,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_EXTRA_CA_CERTS: vmCa, RECORD_BYTES_TO: join(recordDir, `${++recordings}.bin`),
      ANTHROPIC_API_KEY: proxyEnv.ANTHROPIC_API_KEY!, DISCORD_TOKEN: proxyEnv.DISCORD_TOKEN!, ...(door === 'connect' ? proxyVars : {}),
    },
  });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line);
  } catch {
    return { ok: false, error: `no result (exit ${r.exitCode}): ${r.stderr.trim().slice(-300)}` };
  }
}
const raw = (o: Record<string, unknown>) => vm(process.execPath, 'raw-tls.mjs', [JSON.stringify(o)]);
const viaConnect = { host: '192.168.64.1', port: PORT }; // the lab's gateway, as proxy.env says

type Served = { kind: string; host?: string; op?: number; stream?: boolean; authorized?: boolean; leaked?: boolean; placeholder?: boolean; status?: number };
const served = (): Served[] => (existsSync(apisLog) ? readFileSync(apisLog, 'utf8') : '').split('\n').filter(Boolean).map((l) => JSON.parse(l));
type Audit = { kind?: string; door?: string; name?: string; decision?: string; event?: string; reason?: string; code?: string; secrets?: string[]; method?: string; path?: string; status?: number };
const auditText = () => readFileSync(join(stateDir, 'proxy-audit.jsonl'), 'utf8');
const audit = (): Audit[] => auditText().split('\n').filter(Boolean).map((l) => JSON.parse(l));
const received = () => Buffer.concat(readdirSync(recordDir).map((f) => readFileSync(join(recordDir, f))));
const secrets = () => [anthropic, discord, echoSecret, ...oldValues];
const proxyPid = () => (JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { proxy?: { pid: number } }).proxy?.pid;
const proxyLog = () => readFileSync(proxyLogPath(stateDir), 'utf8');

// The doors the new tunnels to `name` came through, from the audit log's open records (a record
// without `door` is the CONNECT proxy's, proxy-config.ts).
function doorsSince(before: number, name: string): string[] {
  return [...new Set(audit().slice(before).filter((r) => r.name === name && r.event === 'open' && r.door !== 'dns').map((r) => r.door ?? 'connect'))].sort();
}

// A chunked body without its framing (what the client's HTTP parser would hand on).
function dechunk(text: string): string {
  let out = '';
  for (let at = 0; at < text.length; ) {
    const eol = text.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(text.slice(at, eol), 16);
    if (!(size > 0)) break;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
  return out;
}

async function waitFor(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  for (let waited = 0; !ok(); waited += 100) {
    if (waited >= ms) assert.unreachable(`${what} within ${ms} ms; the proxy's log ends: ${existsSync(proxyLogPath(stateDir)) ? proxyLog().split('\n').slice(-6).join(' / ') : '(none)'}`);
    await sleep(100);
  }
}

t('@anthropic-ai/sdk with the placeholder: plain and streaming work through the transparent door on both Nodes, the API saw the real key', async () => {
  for (const [label, node] of nodes) {
    const before = served().length;
    const auditBefore = audit().length;
    const r = await vm(node, 'anthropic-messages.mjs', ['https://api.anthropic.test']);
    (table['Anthropic SDK, plain + SSE stream'] ??= {})[`${label} transparent`] = r.ok ? `✓ via ${doorsSince(auditBefore, 'api.anthropic.test').join('+')}` : `✗ ${r.error}`;
    assert.ok(r.ok, `${label}: ${JSON.stringify(r)}`);
    assert.is(r.streamed, 'lab says: stream');
    const seen = served().slice(before);
    assert.equal(seen.map((x) => [x.host, x.stream, x.authorized, x.leaked]), [['api.anthropic.test', false, true, false], ['api.anthropic.test', true, true, false]]);
    assert.equal(doorsSince(auditBefore, 'api.anthropic.test'), ['transparent']);
    const injected = audit().slice(auditBefore).filter((x) => x.kind === 'injected-request');
    assert.equal(injected.map((x) => [x.name, x.method, x.path, x.status, x.secrets]), [['api.anthropic.test', 'POST', '/v1/messages', 200, ['anthropic']], ['api.anthropic.test', 'POST', '/v1/messages', 200, ['anthropic']]]);
  }
  // The recorder saw the plaintext (so a secret in it would have been seen too).
  assert.ok(received().includes('lab says: hello'), 'the recording holds what the client decrypted');
  for (const s of secrets()) assert.is(received().indexOf(s), -1, 'a secret reached the VM');
});

t('@anthropic-ai/sdk through the CONNECT door (proxy.env\'s variables; a Node that honours NODE_USE_ENV_PROXY)', async () => {
  let anyConnect = false;
  for (const [label, node] of nodes) {
    const before = served().length;
    const auditBefore = audit().length;
    const r = await vm(node, 'anthropic-messages.mjs', ['https://api.anthropic.test'], 'connect');
    const doors = doorsSince(auditBefore, 'api.anthropic.test');
    (table['Anthropic SDK, plain + SSE stream'] ??= {})[`${label} with proxy.env`] = r.ok ? `✓ via ${doors.join('+')}` : `✗ ${r.error}`;
    assert.ok(r.ok, `${label}: ${JSON.stringify(r)}`);
    assert.ok(served().slice(before).every((x) => x.authorized === true && x.leaked === false));
    if (doors.includes('connect')) anyConnect = true;
  }
  // Node ≥ 24 sends fetch through HTTPS_PROXY when NODE_USE_ENV_PROXY=1 (proxy.env sets it).
  assert.ok(anyConnect || nodes.every(([, n]) => !/node-v2[4-9]|node-v[3-9]\d/.test(n)), 'no Node took the CONNECT door');
  for (const s of secrets()) assert.is(received().indexOf(s), -1, 'a secret reached the VM');
});

t('discord.js with the placeholder token logs in until ready (REST Bot header and gateway IDENTIFY injected), on both Nodes, with and without proxy.env', async () => {
  for (const [label, node] of nodes) {
    for (const door of ['transparent', 'connect'] as const) {
      const before = served().length;
      const auditBefore = audit().length;
      const r = await vm(node, 'discord-login.mjs', ['https://discord.test/api', '15000'], door);
      const doors = [...new Set([...doorsSince(auditBefore, 'discord.test').map((d) => `REST ${d}`), ...doorsSince(auditBefore, 'gateway.discord.test').map((d) => `gateway ${d}`)])];
      (table['discord.js login → ready'] ??= {})[`${label} ${door === 'connect' ? 'with proxy.env' : 'transparent'}`] = r.ok ? `✓ ${doors.join(', ')}` : `✗ ${r.error}`;
      assert.ok(r.ok, `${label} ${door}: ${JSON.stringify(r)}`);
      assert.is(r.user, 'lab-bot');
      const seen = served().slice(before);
      assert.ok(seen.some((x) => x.kind === 'http' && x.host === 'discord.test' && x.authorized === true), JSON.stringify(seen));
      assert.ok(seen.some((x) => x.kind === 'gateway' && x.op === 2 && x.authorized === true), JSON.stringify(seen));
      assert.not.ok(seen.some((x) => x.leaked), JSON.stringify(seen));
      assert.ok(audit().slice(auditBefore).some((x) => x.kind === 'websocket-open' && x.name === 'gateway.discord.test'), 'the WebSocket\'s open record');
    }
  }
  for (const s of secrets()) assert.is(received().indexOf(s), -1, 'a secret reached the VM');
});

t('the gateway: the placeholder in a presence update or another op\'s d.token arrives as the placeholder; RESUME gets the token', async () => {
  const before = served().length;
  const r = await vm(process.execPath, 'gateway-frames.mjs', ['wss://gateway.discord.test']);
  assert.ok(r.ok, JSON.stringify(r));
  const frames = served().slice(before).filter((x) => x.kind === 'gateway');
  assert.equal(frames.map((x) => [x.op, x.authorized, x.leaked, x.placeholder]), [[2, true, false, false], [3, false, false, true], [99, false, false, true], [6, true, false, false]]);
  for (const s of secrets()) assert.is(received().indexOf(s), -1, 'a secret reached the VM');
});

t('the echo server reflects every header and body, through both doors: the VM gets the placeholder back, never the secret', async () => {
  const request = (name: string) => `POST /reflect?q=1 HTTP/1.1\r\nHost: ${name}\r\nx-api-key: nanopolicy-placeholder:anthropic\r\nx-other: nanopolicy-placeholder:anthropic\r\nContent-Length: 40\r\nConnection: close\r\n\r\n${'nanopolicy-placeholder:anthropic'.padEnd(40, '.')}`;
  for (const proxy of [undefined, viaConnect]) {
    const r = await raw({ name: 'echo.test', servername: 'echo.test', payload: request('echo.test'), ...(proxy && { proxy }) });
    assert.ok(r.ok, JSON.stringify(r));
    const text = r.text as string;
    assert.match(text, /^HTTP\/1\.1 200/);
    // The injected header came back masked; the other header and the body came back as sent.
    assert.match(text, /x-echo-x-api-key: \*{8,}\r\n/i);
    assert.match(text, /x-echo-x-other: nanopolicy-placeholder:anthropic\r\n/i);
    // The echo answers in 5-byte chunks: the body is searched with the chunk framing taken out,
    // so a secret split across chunks would be found.
    const body = dechunk(text.slice(text.indexOf('\r\n\r\n') + 4));
    assert.ok(body.includes(`${'nanopolicy-placeholder:anthropic'.padEnd(40, '.')}`), 'the body as sent');
    assert.match(body, /x-api-key: \*{8,}\r\n/i, 'the reflected request head, masked');
    assert.match(text, new RegExp(`x-echo-x-api-key: \\*{${echoSecret.length}}\r\n`, 'i'), 'the echo secret went up, masked coming back');
    for (const v of secrets()) assert.not.ok(text.includes(v) || body.includes(v), 'a secret in the reflection');
  }
  for (const s of secrets()) assert.is(received().indexOf(s), -1, 'a secret reached the VM');
});

t('a listed name without injection stays an end-to-end tunnel: the placeholder arrives unchanged (the lab\'s own certificate)', async () => {
  const r = await raw({ name: 'plain.test', servername: 'plain.test', payload: 'GET / HTTP/1.1\r\nHost: plain.test\r\nx-api-key: nanopolicy-placeholder:anthropic\r\nConnection: close\r\n\r\n' });
  assert.ok(r.ok, JSON.stringify(r));
  assert.match(r.text as string, /x-echo-x-api-key: nanopolicy-placeholder:anthropic\r\n/i);
  assert.ok(audit().some((x) => x.name === 'plain.test' && x.decision === 'allowed' && x.reason !== 'tunnel opened (credential injection)'));
});

t('refusals through the real process, both doors: smuggling shapes, a Host not the tunnel\'s name, the HTTP/2 preface — answered 403, recorded, never forwarded', async () => {
  const cases: Array<[code: string, payload: string]> = [
    ['cl-and-te', 'POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['two-content-lengths', 'POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.test\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\n{}'],
    ['obs-fold', 'GET /v1/models HTTP/1.1\r\nHost: api.anthropic.test\r\nx-a: b\r\n  folded\r\n\r\n'],
    ['host-mismatch', 'GET /v1/models HTTP/1.1\r\nHost: echo.test\r\n\r\n'],
    ['absolute-form-other-host', 'GET https://echo.test/reflect HTTP/1.1\r\nHost: api.anthropic.test\r\n\r\n'],
    ['http2-preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
  ];
  for (const proxy of [undefined, viaConnect]) {
    for (const [code, payload] of cases) {
      const before = served().length;
      const auditBefore = audit().length;
      const r = await raw({ name: 'api.anthropic.test', servername: 'api.anthropic.test', payload, holdMs: 2000, ...(proxy && { proxy }) });
      const where = `${code} via ${proxy ? 'CONNECT' : 'transparent'}`;
      assert.match(String(r.text ?? ''), /^HTTP\/1\.1 403/, `${where}: ${JSON.stringify(r)}`);
      await waitFor(`${where}: the refusal record`, () => audit().slice(auditBefore).some((x) => x.kind === 'inject-refused' && x.code === code), 3000);
      assert.equal(served().slice(before), [], `${where}: nothing reached the API`);
    }
  }
});

t('TLS to an injected name without its listed SNI (another name, or none) is refused at both doors; no server sees it', async () => {
  const before = served().length;
  const echoLog = join(lab.dir, 'echo.jsonl');
  const echoBefore = readFileSync(echoLog, 'utf8').length;
  const attempts = [
    // The transparent door takes the name from the SNI: an unlisted one, or none, goes nowhere.
    { name: 'api.anthropic.test', servername: 'unlisted.test' },
    { name: 'api.anthropic.test', servername: null },
    // The CONNECT door named the tunnel: another name in the SNI, even a listed one, or none.
    { name: 'api.anthropic.test', servername: 'echo.test', proxy: viaConnect },
    { name: 'api.anthropic.test', servername: null, proxy: viaConnect },
  ];
  for (const a of attempts) {
    const r = await raw({ ...a, payload: 'GET /v1/models HTTP/1.1\r\nHost: api.anthropic.test\r\nConnection: close\r\n\r\n', holdMs: 2000 });
    assert.not.match(String(r.text ?? ''), /lab-model|HTTP\/1\.1 [24]0[01]/, `${JSON.stringify(a)}: ${JSON.stringify(r)}`);
  }
  assert.equal(served().slice(before), []);
  assert.is(readFileSync(echoLog, 'utf8').length, echoBefore, 'the echo server saw nothing');
});

t('a secret file rewritten: the proxy re-reads it (mtime) and injects the new value; made readable by others, the old value stays and the log names the item; a command\'s new output is read on the supervisor\'s SIGHUP', async () => {
  oldValues.push(anthropic);
  anthropic = `sk-ant-lab-${randomBytes(18).toString('hex')}`;
  const file = join(secretDir, 'anthropic');
  writeFileSync(file, `${anthropic}\n`);
  // Whichever comes first: the file poll (1 s) or the supervisor's SIGHUP (every 2 s here) — both
  // re-read the file, and CI has seen the SIGHUP win.
  await waitFor('the proxy re-read the changed file', () => /re-read the secrets \((\S+anthropic changed|SIGHUP)\): new value for "anthropic"/.test(proxyLog()), 8000);
  let before = served().length;
  let r = await vm(process.execPath, 'anthropic-messages.mjs', ['https://api.anthropic.test']);
  assert.ok(r.ok, JSON.stringify(r));
  assert.ok(served().slice(before).every((x) => x.authorized === true), 'the API checked against the new value');
  chmodSync(file, 0o644);
  try {
    await waitFor('the failed re-read in the log', () => /re-reading the secrets \([^)]*\): The secret "anthropic" could not be read: the file .* has mode 0644.*The value read before stays in use/.test(proxyLog()), 8000);
    before = served().length;
    r = await vm(process.execPath, 'anthropic-messages.mjs', ['https://api.anthropic.test']);
    assert.ok(r.ok, `the value read before is still injected: ${JSON.stringify(r)}`);
    assert.ok(served().slice(before).every((x) => x.authorized === true));
    // Said once, however many SIGHUPs come (every 2 s here): one proxy.log line, one audit record,
    // which `nanopolicy log` shows.
    await sleep(4500);
    const unreadable = audit().filter((x) => x.kind === 'secret-unreadable' && (x as { secret?: string }).secret === 'anthropic');
    assert.is(unreadable.length, 1, JSON.stringify(unreadable));
    assert.is(proxyLog().match(/re-reading the secrets \([^)]*\): The secret "anthropic" could not be read/g)?.length, 1, proxyLog());
    // `log` reads the log even now, when the policy fails its check on that very file.
    const during = await cli(['log', policyFile, '--state-dir', stateDir]);
    assert.is(during.exitCode, 0, during.stderr);
    assert.match(during.stderr, /Reading the log of "[^"]+" anyway/);
    assert.match(during.stdout, /SECRET {3}"anthropic" could not be read again/);
  } finally {
    chmodSync(file, 0o600);
  }
  await waitFor('the source readable again, in the audit log', () => audit().some((x) => x.kind === 'secret-readable' && (x as { secret?: string }).secret === 'anthropic'), 8000);
  const shown = await cli(['log', policyFile, '--state-dir', stateDir]);
  assert.match(shown.stdout, /SECRET {3}"anthropic" could not be read again: The secret "anthropic" could not be read: the file .* has mode 0644.*The value read before stays in use/, shown.stdout + shown.stderr);
  assert.match(shown.stdout, /secret {3}"anthropic" is readable again/);
  // A command's output has no mtime: the supervisor's SIGHUP each interval (2 s here) re-reads it.
  // First let the file watch (1 s polls) see the chmod above and finish its re-read, so the
  // change below can only be found by a SIGHUP.
  await sleep(2500);
  oldValues.push(echoSecret);
  echoSecret = `echo-lab-new-${randomBytes(13).toString('hex')}`;
  writeFileSync(join(secretDir, 'echo'), `${echoSecret}\n`);
  await waitFor('a SIGHUP re-read', () => /re-read the secrets \(SIGHUP\): new value for "echo"/.test(proxyLog()), 8000);
  assert.ok(audit().some((x) => x.kind === 'secret-changed' && x.secrets?.includes('echo')), 'the new value is in the audit log, by name');
  const echoed = await raw({ name: 'echo.test', servername: 'echo.test', payload: 'GET / HTTP/1.1\r\nHost: echo.test\r\nx-api-key: nanopolicy-placeholder:echo\r\nConnection: close\r\n\r\n' });
  assert.match(String(echoed.text), new RegExp(`x-echo-x-api-key: \\*{${echoSecret.length}}\r\n`, 'i'), 'the new, longer value went up (masked coming back)');
  assert.not.ok(secrets().some((v) => proxyLog().includes(v)));
});

t('the proxy killed mid-stream under --supervise: no audit record lost (the tunnel\'s open record is on disk), and the restarted proxy injects again', async () => {
  const pid = proxyPid()!;
  const auditBefore = auditText();
  const before = served().length;
  const body = JSON.stringify({ model: 'claude-slow', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'slow' }] });
  const streaming = raw({ name: 'api.anthropic.test', servername: 'api.anthropic.test', holdMs: 20_000, payload: `POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.test\r\nx-api-key: nanopolicy-placeholder:anthropic\r\ncontent-type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}` });
  await waitFor('the stream under way', () => served().slice(before).some((x) => x.stream === true), 8000);
  const recording = join(recordDir, `${recordings}.bin`);
  await waitFor('a few slow events through', () => existsSync(recording) && readFileSync(recording, 'latin1').includes('"text":" 2"'), 8000);
  process.kill(pid, 'SIGKILL');
  const r = await streaming;
  assert.match(String(r.text), /^HTTP\/1\.1 200/, JSON.stringify(r).slice(0, 600));
  assert.match(String(r.text), /content_block_delta/, JSON.stringify(r).slice(0, 600));
  assert.not.match(String(r.text), /message_stop/, 'the stream was cut');
  const after = auditText();
  assert.ok(after.startsWith(auditBefore), 'every record written before the kill is still there');
  assert.ok(after.slice(auditBefore.length).split('\n').filter(Boolean).some((l) => { const x = JSON.parse(l) as Audit; return x.name === 'api.anthropic.test' && x.event === 'open' && x.reason === 'tunnel opened (credential injection)'; }), 'the open record of the killed tunnel');
  await waitFor('the supervisor restarted the proxy', () => { const now = proxyPid(); return now !== undefined && now !== pid && existsSync(`/proc/${now}`); }, 10_000);
  await waitFor('the new proxy listening', () => proxyLog().split('listening').length > 2, 5000);
  const again = served().length;
  const ok = await vm(process.execPath, 'anthropic-messages.mjs', ['https://api.anthropic.test']);
  assert.ok(ok.ok, JSON.stringify(ok));
  assert.ok(served().slice(again).every((x) => x.authorized === true));
});

t('no secret anywhere: not in what the VM got, any log or state file, any argv or environment on this machine', async () => {
  const values = secrets();
  assert.ok(received().length > 10_000, 'the recordings hold the clients\' traffic');
  for (const v of values) assert.is(received().indexOf(v), -1, 'a secret reached the VM');
  // Every file the run wrote (logs, the state directory, the policy and compile's output) but
  // the secret files themselves and the servers' own copies of nothing.
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (p === secretDir) continue;
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && statSync(p).size < 64 << 20) files.push(p);
    }
  };
  walk(lab.dir);
  assert.ok(files.some((f) => f.endsWith('proxy-audit.jsonl')) && files.some((f) => f.endsWith('proxy.log')));
  for (const f of files) {
    const text = readFileSync(f, 'latin1');
    for (const v of values) assert.not.ok(text.includes(v), `a secret in ${f}`);
  }
  assert.not.ok(values.some((v) => supervisorOut.includes(v)), 'in enforce\'s output');
  let processes = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    for (const what of ['cmdline', 'environ']) {
      let text: string;
      try {
        text = readFileSync(`/proc/${pid}/${what}`, 'latin1');
      } catch {
        continue;
      }
      if (what === 'cmdline') processes++;
      for (const v of values) assert.not.ok(text.includes(v), `a secret in /proc/${pid}/${what}`);
    }
  }
  assert.ok(processes > 5 && proxyPid() !== undefined && existsSync(`/proc/${proxyPid()}`), 'the proxy was among the processes searched');
});

if (available) t.run();
