// Real clients through the cage, unchanged and with no proxy settings, in the lab, on this
// machine's Node and on a current one: @anthropic-ai/sdk (messages.create, plain and streaming
// SSE) and discord.js (login until ready: REST /api/v10/gateway/bot, then the gateway WebSocket
// the REST answer names). The VM's resolver is the gateway (as softnet's DHCP tells a real VM):
// our responder answers the listed names with the gateway, the firewall redirects :443 to the
// transparent door, and the door takes the name from the SNI. The lab services see the
// connections come from the host, never the VM. A client pointed at an address directly is
// refused by the firewall and shows in `nanopolicy log` as a direct attempt.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliArgs } from '../helpers/cli-process.ts';
import { currentNode } from '../helpers/current-node.ts';
import { PLAN, createLab, requireLab, type Lab } from '../lab/index.ts';
import { startServerScript } from '../lab/start-service.ts';
import type { AuditRecord } from '../../src/formats/proxy-config.ts';

const available = requireLab('real-client end-to-end tests');
const ROOT = join(import.meta.dirname, '../..');
const CLI = await cliArgs();
const APIS = '203.0.113.20';
const NAMES = ['api.anthropic.test', 'discord.test', 'gateway.discord.test'];

const t = suite('real clients through the transparent door (lab)');
let lab: Lab;
let policyFile: string;
let stateDir: string;
let apisLog: string;
let nodes: Array<[label: string, path: string]>;
const table: Record<string, Record<string, string>> = {};

t.before(async () => {
  nodes = [[`Node ${process.versions.node}`, process.execPath], [`Node ${currentNode().match(/node-([\d.]+)/)![1]}`, currentNode()]];
  lab = await createLab({ wanAddresses: [APIS], hostHosts: Object.fromEntries(NAMES.map((n) => [n, APIS])) });
  const cert = lab.issueCert({ names: NAMES });
  apisLog = join(lab.dir, 'apis.jsonl');
  await startServerScript(lab.ns.wan, 'chat-apis.mjs', { name: 'apis', address: APIS, port: 443, log: apisLog, certPem: cert.certPem, keyPem: cert.keyPem, gateway: 'gateway.discord.test' });
  // The VM asks the gateway, like a softnet VM told so by bootpd; it has no hosts lines for these.
  lab.setResolvers('vm', [lab.gateway]);
  const dir = join(lab.dir, 'policy');
  mkdirSync(dir, { recursive: true });
  policyFile = join(dir, 'clients.policy');
  stateDir = join(lab.dir, 'state');
  writeFileSync(policyFile, ['vm clients-vm', 'egress claude api.anthropic.test', 'egress discord discord.test gateway.discord.test', ''].join('\n'));
  const r = await cli(['enforce', policyFile, '--backend', 'nft', '--vm-address', lab.vmAddress, '--state-dir', stateDir, '--home', lab.dir, '--wait', '5']);
  assert.is(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
});
t.after(() => {
  if (Object.keys(table).length > 0) {
    const columns = nodes.map(([label]) => label);
    process.stderr.write(`\nclient × Node, measured (lab, transparent door, no proxy variables):\n| client | ${columns.join(' | ')} |\n|---|${columns.map(() => '---').join('|')}|\n`);
    for (const [client, row] of Object.entries(table)) process.stderr.write(`| ${client} | ${columns.map((c) => row[c] ?? '—').join(' | ')} |\n`);
  }
  return lab?.teardown();
});

function cli(args: string[]) {
  return lab.exec('host', ['node', ...CLI, ...args], { cwd: ROOT, timeoutMs: 60_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: lab.dir, NO_COLOR: '1' } });
}

// Runs a client script in the VM with nothing but PATH and the lab CA: no proxy variable at all.
async function client(node: string, script: string, args: string[]): Promise<{ ok: boolean; error?: string; code?: string } & Record<string, unknown>> {
  const r = await lab.exec('vm', [node, join(ROOT, 'test/fixtures/clients', script), ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_EXTRA_CA_CERTS: lab.ca.path }, cwd: ROOT, timeoutMs: 30_000,
  });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line);
  } catch {
    return { ok: false, error: `no result (exit ${r.exitCode}): ${r.stderr.trim().slice(-300)}` };
  }
}

const served = () => (existsSync(apisLog) ? readFileSync(apisLog, 'utf8') : '').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind: string; host?: string; from: string; stream?: boolean; op?: number; token?: boolean });
const audit = () => readFileSync(join(stateDir, 'proxy-audit.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditRecord);

t('@anthropic-ai/sdk: messages.create, plain and streaming, on both Nodes, through the transparent door', async () => {
  for (const [label, node] of nodes) {
    const before = served().length;
    const r = await client(node, 'anthropic-messages.mjs', ['https://api.anthropic.test']);
    (table['Anthropic SDK messages.create (plain + SSE stream)'] ??= {})[label] = r.ok ? 'through the door ✓' : `✗ ${r.error}`;
    assert.ok(r.ok, `${label}: ${JSON.stringify(r)}`);
    assert.is(r.plain, 'lab says: hello');
    assert.is(r.streamed, 'lab says: stream');
    assert.ok((r.deltas as number) >= 2, 'the stream came in pieces');
    const seen = served().slice(before);
    assert.equal(seen.map((x) => [x.host, x.stream]), [['api.anthropic.test', false], ['api.anthropic.test', true]]);
    // From the host's wan address: the door connected, the VM did not.
    assert.ok(seen.every((x) => x.from === PLAN.wan.host), JSON.stringify(seen));
  }
  const doors = audit().filter((x) => x.door === 'transparent' && x.name === 'api.anthropic.test');
  assert.ok(doors.length >= 4 && doors.every((x) => x.decision === 'allowed' && x.rule === 'claude'), JSON.stringify(doors.slice(0, 3)));
  assert.ok(audit().some((x) => x.door === 'dns' && x.name === 'api.anthropic.test' && x.decision === 'allowed'), 'the VM resolved it through our responder');
});

t('discord.js: login until ready (REST, then the gateway WebSocket the REST answer names), on both Nodes', async () => {
  for (const [label, node] of nodes) {
    const before = served().length;
    const r = await client(node, 'discord-login.mjs', ['https://discord.test/api', '15000']);
    (table['discord.js login → ready (REST + gateway WebSocket)'] ??= {})[label] = r.ok ? 'through the door ✓' : `✗ ${r.error}`;
    assert.ok(r.ok, `${label}: ${JSON.stringify(r)}`);
    assert.is(r.user, 'lab-bot');
    const seen = served().slice(before);
    assert.ok(seen.some((x) => x.kind === 'http' && x.host === 'discord.test'), 'REST /gateway/bot');
    assert.ok(seen.some((x) => x.kind === 'upgrade' && x.host === 'gateway.discord.test'), 'the gateway WebSocket');
    assert.ok(seen.some((x) => x.kind === 'gateway' && x.op === 2 && x.token), 'IDENTIFY with a token');
    // Every connection (HTTP and the WebSocket upgrade) came from the host, not the VM.
    assert.ok(seen.filter((x) => x.kind !== 'gateway').every((x) => x.from === PLAN.wan.host), JSON.stringify(seen));
  }
  assert.ok(audit().some((x) => x.door === 'transparent' && x.name === 'gateway.discord.test' && x.decision === 'allowed'));
});

t('a client pointed at an address directly is refused by the firewall and shows in the log as a direct attempt', async () => {
  const before = served().length;
  for (const [label, node] of nodes) {
    const r = await client(node, 'anthropic-messages.mjs', [`https://${APIS}`]);
    (table['Anthropic SDK with baseURL = an address (misconfigured)'] ??= {})[label] = r.ok ? 'REACHED (hole!)' : `blocked (${r.code ?? 'error'}), logged`;
    assert.is(r.ok, false, label);
  }
  assert.equal(served().slice(before), [], 'nothing reached the service');
  let text = '';
  for (let waited = 0; waited < 8000 && !text.includes(`${APIS}:443`); waited += 250) {
    text = (await cli(['log', policyFile, '--state-dir', stateDir, '--home', lab.dir, '--refused'])).stdout;
    await new Promise((x) => setTimeout(x, 250));
  }
  assert.match(text, new RegExp(`BLOCKED +firewall +tried ${APIS.replace(/\./g, '\\.')}:443 \\(tcp\\) directly \\d+×`));
});

if (available) t.run();
