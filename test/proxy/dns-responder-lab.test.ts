// The DNS responder end to end, as root, in the lab: enforce --backend nft starts it with the
// proxy and redirects the gateway's port 53 to it; the VM's resolv.conf names the gateway (as
// softnet's DHCP tells a real VM, docs/egress.md). Listed names (wildcards included) resolve to
// the gateway, through the VM's own system resolver too; anything else gets NXDOMAIN at once; a
// unique name never reaches the lab's upstream resolver (the responder forwards nothing); every
// query is in the audit log; the responder's own high port cannot be dialled directly.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { cliArgs } from '../helpers/cli-process.ts';
import { PLAN, createLab, requireLab, type Lab } from '../lab/index.ts';
import type { AuditRecord } from '../../src/formats/proxy-config.ts';

const available = requireLab('DNS responder end-to-end tests');
const ROOT = join(import.meta.dirname, '../..');
const CLI = await cliArgs();
const WEB = '203.0.113.20';
const PORT = 13228;

const t = suite('dns responder (lab)');
let lab: Lab;
let policyFile: string;
let stateDir: string;

t.before(async () => {
  lab = await createLab({ wanAddresses: [WEB], hostHosts: { 'api.dnslab.test': WEB, 'a.cdn.dnslab.test': WEB } });
  // The lab's upstream resolver: what a forwarding responder would ask. It knows every name.
  await lab.startDns('wan', PLAN.wan.dns, { 'api.dnslab.test': WEB, 'a.cdn.dnslab.test': WEB, 'web.lab.test': PLAN.wan.web }, { name: 'upstream' });
  lab.setResolvers('vm', [lab.gateway]);
  const dir = join(lab.dir, 'policy');
  mkdirSync(dir, { recursive: true });
  policyFile = join(dir, 'dns.policy');
  stateDir = join(lab.dir, 'state');
  writeFileSync(policyFile, ['vm dns-vm', `proxy via ${PORT}`, 'egress claude api.dnslab.test', 'egress cdn *.cdn.dnslab.test', ''].join('\n'));
  const cli = await run(['enforce', policyFile, '--backend', 'nft', '--vm-address', lab.vmAddress, '--state-dir', stateDir, '--home', lab.dir, '--wait', '5']);
  assert.is(cli.exitCode, 0, `${cli.stdout}\n${cli.stderr}`);
});
t.after(() => lab?.teardown());

function run(args: string[]) {
  return lab.exec('host', ['node', ...CLI, ...args], { cwd: ROOT, timeoutMs: 60_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: lab.dir, NO_COLOR: '1' } });
}
const audit = (): AuditRecord[] => readFileSync(join(stateDir, 'proxy-audit.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditRecord);

t('listed names (and names below a wildcard) resolve to the gateway on the gateway\'s port 53; AAAA has no data', async () => {
  for (const name of ['api.dnslab.test', 'a.cdn.dnslab.test', 'deep.b.cdn.dnslab.test']) {
    const r = await lab.probeDns('vm', lab.gateway, name);
    assert.ok(r.ok, `${name}: ${JSON.stringify(r)}`);
    assert.equal(r.ok && r.answers, [lab.gateway], name);
  }
  const aaaa = await lab.probeDns('vm', lab.gateway, 'api.dnslab.test', { type: 'AAAA' });
  assert.ok(aaaa.ok);
  assert.is(aaaa.ok && aaaa.rcode, 0, 'NOERROR');
  assert.equal((aaaa.ok && aaaa.answers) || [], []);
});

t('DNS over TCP to the gateway\'s 53 is redirected to the responder too', async () => {
  const script = `const net=require('net');const name='api.dnslab.test';const labels=name.split('.').map(l=>Buffer.concat([Buffer.from([l.length]),Buffer.from(l)]));const msg=Buffer.concat([Buffer.from([0,9,1,0,0,1,0,0,0,0,0,0]),...labels,Buffer.from([0,0,1,0,1])]);const len=Buffer.alloc(2);len.writeUInt16BE(msg.length);const s=net.connect(53,'GATEWAY',()=>s.write(Buffer.concat([len,msg])));let got=Buffer.alloc(0);s.on('data',d=>{got=Buffer.concat([got,d]);if(got.length>=2&&got.length>=2+got.readUInt16BE(0)){const m=got.subarray(2);console.log(JSON.stringify({rcode:m[3]&15,answers:m.readUInt16BE(6),last:[...m.subarray(m.length-4)].join('.')}));s.destroy();}});s.on('error',e=>console.log(JSON.stringify({error:e.code})));setTimeout(()=>{console.log(JSON.stringify({error:'timeout'}));process.exit(0)},3000).unref();`;
  const r = await lab.exec('vm', ['node', '-e', script.replace('GATEWAY', lab.gateway)]);
  assert.equal(JSON.parse(r.stdout.trim().split('\n')[0]!), { rcode: 0, answers: 1, last: lab.gateway });
});

t("the VM's own system resolver (resolv.conf names the gateway) finds listed names at the gateway, and nothing else", async () => {
  const listed = await lab.exec('vm', ['getent', 'ahostsv4', 'api.dnslab.test']);
  assert.is(listed.exitCode, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`^${lab.gateway.replace(/\./g, '\\.')}\\s`));
  const unlisted = await lab.exec('vm', ['getent', 'ahostsv4', 'web.lab.test']);
  assert.is(unlisted.exitCode, 2, 'not found');
  assert.is(unlisted.stdout, '');
});

t('an unlisted name gets NXDOMAIN at once, and a unique name never reaches the upstream resolver', async () => {
  const nonce = randomBytes(6).toString('hex');
  const unique = `np-${nonce}.exfil.test`;
  const before = lab.connections('upstream').length;
  const started = Date.now();
  const r = await lab.probeDns('vm', lab.gateway, unique);
  assert.is(r.ok && r.rcode, 3, 'NXDOMAIN');
  assert.ok(Date.now() - started < 2000, 'answered at once');
  for (const name of [`${nonce}.api.dnslab.test`, 'cdn.dnslab.test', `api.dnslab.test.${nonce}.test`]) {
    const other = await lab.probeDns('vm', lab.gateway, name);
    assert.is(other.ok && other.rcode, 3, name);
  }
  await new Promise((x) => setTimeout(x, 300));
  const upstream = lab.connections('upstream').slice(before);
  assert.equal(upstream.filter((q) => String(q.qname ?? '').includes(nonce)), [], 'the upstream resolver never saw the unique name');
  assert.equal(upstream, [], 'nothing at all reached the upstream resolver');
  // The responder recorded it (door dns, refused), so the owner sees what the VM asked.
  const rec = audit().find((x) => x.door === 'dns' && x.name === unique);
  assert.ok(rec, 'the query is in the audit log');
  assert.is(rec!.decision, 'refused');
  assert.match(rec!.reason, /NXDOMAIN/);
  // And the VM cannot ask the upstream itself: the firewall refuses it.
  const direct = await lab.probeDns('vm', PLAN.wan.dns, unique, { timeoutMs: 800 });
  assert.is(direct.ok, false);
  assert.equal(lab.connections('upstream').slice(before), []);
});

t("the responder's and the doors' own high ports cannot be dialled directly: only the redirect reaches them", async () => {
  const config = JSON.parse(readFileSync(join(stateDir, 'proxy.json'), 'utf8')) as { dns: { listen: { port: number } }; transparent: Array<{ listen: { port: number } }> };
  const r = await lab.probeDns('vm', lab.gateway, 'api.dnslab.test', { port: config.dns.listen.port, timeoutMs: 800 });
  assert.is(r.ok, false, JSON.stringify(r));
  for (const door of config.transparent) {
    const tcp = await lab.probeTcp('vm', lab.gateway, door.listen.port, { timeoutMs: 800 });
    assert.is(tcp.ok, false, `door port ${door.listen.port}`);
  }
});

if (available) t.run();
