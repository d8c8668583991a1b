// Named egress end to end, as root, in the lab's namespaces: the lab's internet (wan) answers TLS
// for several .test names, the host namespace resolves them from its own hosts file; enforce
// --backend nft starts the proxy after the rules; verify proves each outcome (listed names through,
// unlisted and mismatched TLS names refused, no way around the proxy, the audit log backing it);
// a listed name rebound to the host itself (its own address, the gateway, loopback) is refused;
// `log` shows it all; a forged VM report fails on the audit log; --down leaves no proxy.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliArgs } from '../helpers/cli-process.ts';
import { PLAN, createLab, requireLab, rewriteInPlace, type Lab } from '../lab/index.ts';
import { buildProbe } from '../verify/lab-setup.ts';

const available = requireLab('egress proxy end-to-end tests');
const ROOT = join(import.meta.dirname, '../..');
const CLI = await cliArgs();
const WEB = '203.0.113.20';
const NAMES = ['api.egress.test', 'chat.egress.test', 'cdn.egress.test', 'other.egress.test'];
const PORT = 13128;

const t = suite('egress proxy (lab)');
let lab: Lab;
let policyFile: string;
let stateDir: string;

t.before(async () => {
  await buildProbe();
  lab = await createLab({ wanAddresses: [WEB], hostHosts: Object.fromEntries(NAMES.map((n) => [n, WEB])) });
  await lab.startTlsService('wan', WEB, 443, { name: 'egress-web', names: NAMES });
  // The Mac's own SSH on the gateway, and a service on the host's wan address: what a proxy that
  // trusted DNS answers would open.
  await lab.startTcpService('host', lab.gateway, 22, { name: 'host-ssh', banner: 'SSH-2.0-lab\r\n' });
  await lab.startTcpService('host', PLAN.wan.host, 443, { name: 'host-self' });
  const dir = join(lab.dir, 'policy');
  mkdirSync(dir, { recursive: true });
  policyFile = join(dir, 'egress.policy');
  stateDir = join(lab.dir, 'state');
  writeFileSync(policyFile, ['vm lab-vm', `proxy via ${PORT} max-conn 16`, 'egress claude api.egress.test', 'egress chat chat.egress.test cdn.egress.test', ''].join('\n'));
});
t.after(() => lab?.teardown());

const cli = (args: string[], timeoutMs = 60_000) => lab.exec('host', ['node', ...CLI, ...args], { cwd: ROOT, timeoutMs, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: lab.dir, NO_COLOR: '1' } });
const enforceArgs = () => ['enforce', policyFile, '--backend', 'nft', '--vm-address', lab.vmAddress, '--state-dir', stateDir, '--home', lab.dir, '--wait', '5'];
const state = () => JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { proxy?: { pid: number; config: string; allowClients: string[] } };
const verifyArgs = () => [
  'verify', policyFile, '--backend', 'nft', '--exec', `ip netns exec ${lab.ns.vm}`, '--state-dir', stateDir,
  '--egress', `${PLAN.wan.web}:443,${PLAN.wan.dns}:53`, '--dns-servers', PLAN.wan.dns, '--dns-name', 'web.lab.test',
  '--ca', lab.ca.path, '--shares-root', join(lab.dir, 'no-shares'), '--skip', 'icmp,mounts', '--timeout', '400', '--budget', '60000', '--home', lab.dir, '--json',
];

// CONNECT name:443 from the VM, straight at the proxy; the status line (or the error).
async function connectFromVm(name: string): Promise<string> {
  const script = `const s=require('net').connect(${PORT},'${lab.gateway}');let b='';s.on('connect',()=>s.write('CONNECT ${name}:443 HTTP/1.1\\r\\nHost: ${name}:443\\r\\n\\r\\n'));s.on('data',d=>{b+=d;if(b.includes('\\r\\n\\r\\n')){console.log(b.split('\\r\\n')[0]+' | '+b.split('\\r\\n\\r\\n')[1].trim());s.destroy();}});s.on('error',e=>console.log('error '+e.code));s.setTimeout(3000,()=>{console.log('timeout');s.destroy();});`;
  return (await lab.exec('vm', ['node', '-e', script])).stdout.trim();
}

async function proxyListeners(): Promise<string[]> {
  const ss = await lab.exec('host', ['ss', '-ltnpH']);
  return ss.stdout.split('\n').filter((l) => l.includes(`:${PORT} `)).map((l) => l.trim().split(/\s+/)[3]!);
}

t('--dry-run shows the proxy step after the bridges and the rules, and changes nothing', async () => {
  const r = await cli([...enforceArgs(), '--dry-run']);
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /\d+\. proxy: Start the egress proxy on 192\.168\.64\.1:13128 for claude, chat/);
  assert.match(r.stdout, /run: {2}\S*node \S*proxy\.js --config \S*state\/proxy\.json/);
  assert.ok(r.stdout.indexOf('proxy:') > r.stdout.indexOf('load-table'), 'the proxy starts after the rules');
  assert.equal(await proxyListeners(), []);
});

t('the proxy port taken: enforce fails at the proxy step and undoes everything (no table, no proxy, no state)', async () => {
  await lab.startTcpService('host', lab.gateway, PORT, { name: 'squatter' });
  try {
    const r = await cli(enforceArgs());
    assert.is(r.exitCode, 3, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout + r.stderr, /proxy/);
    assert.is((await lab.exec('host', ['nft', 'list', 'table', 'inet', 'nanopolicy_lab_vm'])).exitCode !== 0, true, 'the table was removed');
    assert.not.ok(existsSync(join(stateDir, 'state.json')));
    const procs = await lab.run('host', `for p in $(ip netns pids ${lab.ns.host}); do tr '\\0' ' ' < /proc/$p/cmdline; echo; done`);
    assert.match(procs.stdout, /tcp-server/, 'the process list was read');
    assert.not.match(procs.stdout, /proxy\.js/);
  } finally {
    await lab.stopService('squatter');
  }
});

t('enforce starts the proxy on the gateway only, narrowed to the VM, recorded in the state', async () => {
  const r = await cli(enforceArgs());
  assert.is(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  const s = state();
  assert.ok(s.proxy, 'the proxy is recorded');
  assert.equal(s.proxy!.allowClients, [`${lab.vmAddress}/32`]);
  assert.equal(await proxyListeners(), [`${lab.gateway}:${PORT}`]);
  const config = JSON.parse(readFileSync(s.proxy!.config, 'utf8'));
  assert.ok(config.denyNetworks.includes(`${PLAN.wan.host}/32`), "the host's own addresses are refused destinations");
  assert.is(config.auditLog, join(stateDir, 'proxy-audit.jsonl'));
  // Enforcing again changes nothing: the proxy is part of what "in force" means.
  const again = await cli(enforceArgs());
  assert.is(again.exitCode, 0);
  assert.is(state().proxy!.pid, s.proxy!.pid);
});

t('verify: every listed name through the proxy, unlisted and mismatched names refused, no way around it, backed by the audit log', async () => {
  const r = await cli(verifyArgs(), 90_000);
  const json = JSON.parse(r.stdout) as { results: Array<{ group: string; probe: string; ok: boolean; measured: string; detail?: string }> };
  const failed = json.results.filter((x) => !x.ok).map((x) => x.detail ?? x.probe);
  assert.equal(failed, [], failed.join('\n'));
  assert.is(r.exitCode, 0);
  const proxyRows = json.results.filter((x) => x.group === 'proxy');
  for (const n of ['api.egress.test', 'chat.egress.test', 'cdn.egress.test']) {
    assert.ok(proxyRows.some((x) => x.probe.startsWith(`${n}:443 (`) && x.measured === 'TLS ok'), `${n} through the proxy`);
    assert.ok(proxyRows.some((x) => x.probe.startsWith(`${WEB}:443 (${n}`) && x.probe.endsWith('without the proxy')), `${n} direct`);
  }
  assert.ok(proxyRows.some((x) => /unlisted\.invalid:443 \(unlisted\)/.test(x.probe) && /^CONNECT 403/.test(x.measured)));
  assert.ok(proxyRows.some((x) => /TLS as np-\w+\.sni\.invalid/.test(x.probe) && /^cut off/.test(x.measured)));
  // The gateway's 53 is nanopolicy's responder: listed names lead to the gateway, the probe's
  // unlisted name gets NXDOMAIN with no address.
  const dns = json.results.filter((x) => x.group === 'dns');
  for (const n of ['api.egress.test', 'chat.egress.test', 'cdn.egress.test']) {
    assert.ok(dns.some((x) => x.probe.startsWith(`${n} from nanopolicy's responder on ${lab.gateway}:53`) && x.ok && x.measured === `rcode 0: ${lab.gateway}`), `${n} resolves to the gateway`);
  }
  assert.ok(dns.some((x) => x.probe === `UDP ${lab.gateway}:53 web.lab.test (nanopolicy's responder)` && x.ok && x.measured === 'NXDOMAIN, no address'));
  const host = json.results.filter((x) => x.group === 'host');
  assert.ok(host.some((x) => x.probe === `egress proxy on ${lab.gateway}:${PORT}` && x.ok));
  // Through the proxy: three names, one unlisted, one mismatched TLS name; through the transparent
  // door: the three names again, and one invented TLS name.
  assert.is(host.filter((x) => x.probe.startsWith('audit log:')).length, 9);
  for (const n of ['api.egress.test', 'chat.egress.test', 'cdn.egress.test']) {
    assert.ok(proxyRows.some((x) => x.probe === `${n}:443 (${n.startsWith('api') ? 'claude' : 'chat'}) through the transparent door` && x.ok && x.measured === 'TLS ok'), `${n} through the door`);
    assert.ok(host.some((x) => x.probe === `audit log: ${n}:443 allowed through the transparent door` && x.ok));
  }
  assert.ok(proxyRows.some((x) => /with TLS name np-\w+\.door\.invalid \(unlisted\) through the transparent door/.test(x.probe) && x.ok && /^cut off/.test(x.measured)));
  assert.ok(host.some((x) => /^audit log: TLS name np-\w+\.door\.invalid refused by the transparent door$/.test(x.probe) && x.ok));
  // The direct dials around the proxy were refused by the firewall and are in its log, for
  // `nanopolicy log --refused` (one row per name: all three resolve to WEB).
  const logged = host.filter((x) => x.probe.startsWith(`firewall log: ${WEB}:443 (`));
  assert.is(logged.length, 3);
  assert.ok(logged.every((x) => x.ok && x.measured === 'logged, refused'));
  // The web service saw the three handshakes, from the host's wan address: the VM went only through the proxy.
  const sni = lab.handshakes('egress-web').map((h) => h.sni).sort();
  assert.equal([...new Set(sni)], ['api.egress.test', 'cdn.egress.test', 'chat.egress.test']);
  assert.ok(lab.connections('egress-web').every((c) => c.from === PLAN.wan.host));
});

t('a listed name rebound to the host itself — its own address, the gateway, loopback — is refused', async () => {
  const hostsFile = `/etc/netns/${lab.ns.host}/hosts`;
  const before = readFileSync(hostsFile, 'utf8');
  try {
    for (const [address, why] of [[PLAN.wan.host, /denied network \(203\.0\.113\.1\/32\)/], [lab.gateway, /denied network \(192\.168\.64\.0\/24\)/], ['127.0.0.1', /loopback|127\.0\.0\.1/]] as const) {
      // In place (same inode): the running proxy resolves from this file at its next lookup.
      rewriteInPlace(hostsFile, `${before.replace(/^.*api\.egress\.test.*$/m, '')}${address} api.egress.test\n`);
      const status = await connectFromVm('api.egress.test');
      assert.match(status, /^HTTP\/1\.1 403/, `${address}: ${status}`);
      assert.match(status, why, `${address}: ${status}`);
    }
    assert.equal(lab.connections('host-self'), [], "nothing reached the host's own service");
    assert.equal(lab.connections('host-ssh'), []);
  } finally {
    rewriteInPlace(hostsFile, before);
  }
});

t('log prints what the agent tried, refused ones with their reason', async () => {
  const all = await cli(['log', policyFile, '--state-dir', stateDir, '--home', lab.dir]);
  assert.is(all.exitCode, 0, all.stderr);
  assert.match(all.stdout, /allowed +claude +api\.egress\.test:443 +→ 203\.0\.113\.20/);
  assert.match(all.stdout, /REFUSED +np-\w+\.unlisted\.invalid:443 +name not listed/);
  assert.match(all.stdout, /REFUSED +claude +api\.egress\.test:443 .*resolves to 127\.0\.0\.1/);
  assert.match(all.stderr, /\d+ attempts: \d+ allowed \(/);
  const refused = await cli(['log', policyFile, '--state-dir', stateDir, '--home', lab.dir, '--refused', '--json']);
  const records = refused.stdout.trim().split('\n').map((l) => JSON.parse(l) as { decision: string });
  assert.ok(records.length >= 5 && records.every((x) => x.decision === 'refused'));
});

t('a VM that forges "TLS ok" for every name fails on the audit log it cannot write', async () => {
  const forge = join(lab.dir, 'forge.cjs');
  const row = (group: string, probe = `${group} (forged)`) => ({ group, probe, expected: 'x', measured: 'x', ok: true, ms: 1 });
  const report = { results: [...['bridges', 'hosts', 'gateway', 'direct', 'egress', 'dns', 'mounts'].map((g) => row(g)), row('proxy', 'api.egress.test:443 (claude) through the proxy')], stats: {} };
  writeFileSync(forge, `console.log(${JSON.stringify(JSON.stringify(report))});\n`);
  const args = verifyArgs();
  args[args.indexOf('--exec') + 1] = `ip netns exec ${lab.ns.vm} node ${forge}`;
  const r = await cli(args, 90_000);
  assert.is(r.exitCode, 2);
  const json = JSON.parse(r.stdout) as { results: Array<{ ok: boolean; detail?: string }> };
  const failed = json.results.filter((x) => !x.ok).map((x) => x.detail ?? '');
  assert.ok(failed.some((d) => /audit log does not show "api\.egress\.test:443 allowed"/.test(d)), failed.join('\n'));
  assert.ok(failed.some((d) => /unlisted\.invalid:443 refused/.test(d)));
});

t('--down leaves no proxy process, no listener, no state; the audit log stays', async () => {
  const pid = state().proxy!.pid;
  const down = await cli(['enforce', '--down', policyFile, '--backend', 'nft', '--state-dir', stateDir, '--home', lab.dir]);
  assert.is(down.exitCode, 0, down.stderr);
  assert.not.ok(existsSync(`/proc/${pid}`), 'the proxy process is gone');
  assert.equal(await proxyListeners(), []);
  assert.not.ok(existsSync(join(stateDir, 'state.json')));
  assert.ok(existsSync(join(stateDir, 'proxy-audit.jsonl')), 'the audit log stays for the owner to read');
  assert.match(await connectFromVm('api.egress.test'), /^error ECONNREFUSED|^timeout/);
});

t('--supervise restarts a killed proxy, and SIGTERM tears everything down, proxy included', async () => {
  const r = await cli(enforceArgs());
  assert.is(r.exitCode, 0, r.stderr);
  const first = state().proxy!.pid;
  const supervisor = lab.spawn('host', ['node', ...CLI, ...enforceArgs(), '--supervise', '--interval', '1'], { cwd: ROOT, env: { NO_COLOR: '1', HOME: lab.dir } });
  // Kill the proxy only once the supervisor found the policy in force (a proxy dead before that is
  // the other case: the supervisor takes the state over and restarts it, test/enforce/supervise-lab).
  let said = '';
  supervisor.stdout?.on('data', (d: Buffer) => (said += d.toString()));
  for (let i = 0; i < 300 && !said.includes('already in force'); i++) await new Promise((res) => setTimeout(res, 50));
  assert.match(said, /already in force/);
  process.kill(first, 'SIGKILL');
  let restarted: number | undefined;
  for (let i = 0; i < 100 && restarted === undefined; i++) {
    await new Promise((res) => setTimeout(res, 100));
    const pid = existsSync(join(stateDir, 'state.json')) ? state().proxy?.pid : undefined;
    if (pid !== undefined && pid !== first && existsSync(`/proc/${pid}`)) restarted = pid;
  }
  if (restarted === undefined) {
    supervisor.kill('SIGTERM');
    const out = await supervisor;
    assert.unreachable(`no new proxy; supervisor said: ${String(out.stdout)} ${String(out.stderr).slice(-1500)}`);
  }
  assert.equal(await proxyListeners(), [`${lab.gateway}:${PORT}`]);
  supervisor.kill('SIGTERM');
  await supervisor;
  assert.not.ok(existsSync(`/proc/${restarted}`), 'the restarted proxy is stopped too');
  assert.equal(await proxyListeners(), []);
});

if (available) t.run();
