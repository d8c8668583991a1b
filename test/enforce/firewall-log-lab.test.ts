// What the firewall refuses reaches `nanopolicy log`, end to end, as root, in the lab: enforce
// --backend nft starts the firewall-log collector (tcpdump on the table's nflog group); a client
// in the VM that goes direct to a wan address is refused by the firewall and shows up as "tried
// 203.0.113.x:443 directly N×"; a flood stays bounded; --down stops the collector.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliArgs } from '../helpers/cli-process.ts';
import { PLAN, createLab, requireLab, type Lab } from '../lab/index.ts';
import type { AuditRecord } from '../../src/formats/proxy-config.ts';

const available = requireLab('firewall log end-to-end tests');
const ROOT = join(import.meta.dirname, '../..');
const CLI = await cliArgs();

const t = suite('firewall log (lab)');
let lab: Lab;
let policyFile: string;
let stateDir: string;

t.before(async () => {
  lab = await createLab();
  await lab.startTcpService('wan', PLAN.wan.web, 443, { name: 'wan-web' });
  const dir = join(lab.dir, 'policy');
  mkdirSync(dir, { recursive: true });
  policyFile = join(dir, 'fw.policy');
  stateDir = join(lab.dir, 'state');
  writeFileSync(policyFile, ['vm fw-vm', 'egress claude api.fw.test', ''].join('\n'));
});
t.after(() => lab?.teardown());

const cli = (args: string[], timeoutMs = 60_000) => lab.exec('host', ['node', ...CLI, ...args], { cwd: ROOT, timeoutMs, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: lab.dir, NO_COLOR: '1' } });
const enforceArgs = () => ['enforce', policyFile, '--backend', 'nft', '--vm-address', lab.vmAddress, '--state-dir', stateDir, '--home', lab.dir, '--wait', '5'];
const state = () => JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { firewallLog?: { pid: number; source: string; out: string } };
const processes = async () => (await lab.run('host', `for p in $(ip netns pids ${lab.ns.host}); do tr '\\0' ' ' < /proc/$p/cmdline; echo; done`)).stdout;

// The firewall's records so far, waiting up to `ms` for one that `until` accepts (nflog hands
// packets over about once a second, and the collector writes every 2 s).
async function firewallRecords(until: (r: AuditRecord[]) => boolean, ms = 8000): Promise<AuditRecord[]> {
  let records: AuditRecord[] = [];
  for (let waited = 0; waited <= ms; waited += 250) {
    const r = await cli(['log', policyFile, '--state-dir', stateDir, '--home', lab.dir, '--refused', '--json']);
    records = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditRecord).filter((x) => x.door === 'firewall');
    if (until(records)) break;
    await new Promise((x) => setTimeout(x, 250));
  }
  return records;
}

t('enforce starts the collector on the table\'s nflog group and records it', async () => {
  const r = await cli(enforceArgs());
  assert.is(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  const s = state();
  assert.ok(s.firewallLog, 'the collector is recorded');
  assert.match(s.firewallLog!.source, /^nflog:\d+$/);
  assert.match(await processes(), /firewall-log\.js --source nflog:\d+/);
  assert.match(await processes(), /tcpdump -n -l -q -i nflog:\d+/);
  const nft = await lab.exec('host', ['nft', 'list', 'table', 'inet', 'nanopolicy_fw_vm']);
  assert.match(nft.stdout, new RegExp(`log group ${s.firewallLog!.source.slice('nflog:'.length)}`));
});

t('a client in the VM that goes direct to a wan address is refused and shows as "tried …:443 directly N×"', async () => {
  for (let i = 0; i < 5; i++) {
    const p = await lab.probeTcp('vm', PLAN.wan.web, 443, { timeoutMs: 500 });
    assert.is(p.ok, false, 'the firewall refuses it');
  }
  assert.equal(lab.connections('wan-web'), [], 'nothing reached the wan service');
  const records = await firewallRecords((rs) => rs.reduce((n, x) => n + (x.name === PLAN.wan.web && x.port === 443 ? x.count ?? 1 : 0), 0) >= 5);
  const mine = records.filter((x) => x.name === PLAN.wan.web && x.port === 443);
  const total = mine.reduce((n, x) => n + (x.count ?? 1), 0);
  // Each connect is one SYN (refused at once with a RST, so no retransmission).
  assert.is(total, 5, JSON.stringify(records));
  assert.ok(mine.every((x) => x.protocol === 'tcp' && x.client === lab.vmAddress && x.decision === 'refused' && x.until! >= x.time));
  const text = await cli(['log', policyFile, '--state-dir', stateDir, '--home', lab.dir, '--refused']);
  assert.match(text.stdout, new RegExp(`BLOCKED +firewall +tried ${PLAN.wan.web.replace(/\./g, '\\.')}:443 \\(tcp\\) directly \\d+×`));
  assert.match(text.stderr, /the firewall blocked \d+ direct attempt\(s\) \(203\.0\.113\.10:443 ×5/);
});

t('a flood of refused packets stays bounded: rate-limited in nft, counted per destination', async () => {
  // 3000 UDP datagrams to 3000 ports, as fast as the VM can send them.
  const script = `const s=require('dgram').createSocket('udp4');let n=0;const go=()=>{for(let i=0;i<100&&n<3000;i++,n++)s.send('x',1000+n,'${PLAN.wan.web}');if(n<3000)setImmediate(go);else setTimeout(()=>s.close(),200);};go();`;
  await lab.exec('vm', ['node', '-e', script]);
  const records = await firewallRecords((rs) => rs.some((x) => x.protocol === 'udp'));
  await new Promise((x) => setTimeout(x, 3000));
  const after = await firewallRecords(() => true, 0);
  const udp = after.filter((x) => x.protocol === 'udp' || (x.name === '' && x.reason.includes('more refused')));
  const packets = udp.reduce((n, x) => n + (x.count ?? 1), 0);
  assert.ok(records.length > 0);
  // nft logs at most 50 a second after a burst of 100: far fewer than 3000 reach the collector.
  assert.ok(packets > 0 && packets <= 400, `${packets} logged packets`);
  assert.ok(udp.length <= 400, `${udp.length} records`);
});

t('--down stops the collector (and tcpdump) with the rest; the firewall log stays', async () => {
  const r = await cli([...enforceArgs(), '--down']);
  assert.is(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  const procs = await processes();
  assert.not.match(procs, /firewall-log\.js/);
  assert.not.match(procs, /tcpdump/);
  const records = await firewallRecords(() => true, 0);
  assert.ok(records.some((x) => x.name === PLAN.wan.web && x.port === 443));
});

if (available) t.run();
