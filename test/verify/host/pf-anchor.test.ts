// verify's pf check on a fake Mac: pfctl through sudo -n as the sudoers lines allow, the anchor
// compared rule by rule with the compiled one for the interface holding the gateway.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compilePolicy } from '../../../src/compiler/compile.ts';
import { artifactsFor } from '../../../src/compiler/artifacts-from-emitters.ts';
import { checkPf } from '../../../src/verify/host/pf-anchor.ts';
import type { RunCommand } from '../../../src/host/run-command.ts';
import { printedAnchor } from '../../helpers/pf-printed.ts';

const root = join(import.meta.dirname, '../../..');
const source = readFileSync(join(root, 'policy/nanoclaw.policy'), 'utf8');
const policy = compilePolicy({ file: 'policy/nanoclaw.policy', source, home: '/Users/owner', cwd: '/Users/owner/cfg' }).policy!;

// How pfctl -sr prints the bundled anchor loaded with -D vm_if=bridge101.
// The bundled policy's egress doors: the transparent door for 443 on 13129, the DNS responder on 13130.
const PRINTED = printedAnchor({ subnet: '192.168.64.0/24', gateway: '192.168.64.1', ports: [13128, 16443, 18123, 18443], vmIf: 'bridge101', doors: { transparent: [13129], dns: 13130 } });
const IFCONFIG = `lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384
\tinet 127.0.0.1 netmask 0xff000000
bridge100: flags=8863<UP,BROADCAST,SMART,RUNNING,SIMPLEX,MULTICAST> mtu 1500
\tinet 10.37.129.2 netmask 0xffffff00 broadcast 10.37.129.255
bridge101: flags=8863<UP,BROADCAST,SMART,RUNNING,SIMPLEX,MULTICAST> mtu 1500
\tinet 192.168.64.1 netmask 0xffffff00 broadcast 192.168.64.255
`;

// A fake Mac: no `ip`, ifconfig as above, pfctl answers as given (`others`: other anchors under
// com.apple/ and what -sr prints for each).
function fakeMac(anchor: string, info = 'Status: Enabled for 0 days 00:10:00', others: Record<string, string> = {}): { run: RunCommand; calls: string[] } {
  const calls: string[] = [];
  const run: RunCommand = async (argv) => {
    calls.push(argv.join(' '));
    const cmd = argv.join(' ');
    if (argv[0] === 'ip') return { exitCode: 127, stdout: '', stderr: 'ip: not found' };
    if (argv[0] === 'ifconfig') return { exitCode: 0, stdout: IFCONFIG, stderr: '' };
    if (cmd.endsWith('-s info')) return { exitCode: 0, stdout: info, stderr: '' };
    if (cmd.endsWith('/sbin/pfctl -sr')) return { exitCode: 0, stdout: 'anchor "com.apple/*" all\n', stderr: '' };
    if (cmd.endsWith('-a com.apple/100.nanopolicy.nanoclaw-vm -sr')) return { exitCode: 0, stdout: anchor, stderr: '' };
    if (cmd.endsWith('-a com.apple -s Anchors')) {
      const names = ['com.apple/250.ApplicationFirewall', 'com.apple/100.nanopolicy.nanoclaw-vm', ...Object.keys(others)].sort();
      return { exitCode: 0, stdout: names.map((n) => `  ${n}\n`).join(''), stderr: '' };
    }
    for (const [name, rules] of Object.entries(others)) if (cmd.endsWith(`-a ${name} -sr`)) return { exitCode: 0, stdout: rules, stderr: '' };
    return { exitCode: 1, stdout: '', stderr: `unexpected ${cmd}` };
  };
  return { run, calls };
}

test('the anchor as loaded for bridge101 (found by the gateway address) passes; pfctl goes through sudo -n', async () => {
  const mac = fakeMac(PRINTED);
  const rows = await checkPf(policy, artifactsFor(policy), mac.run);
  assert.equal(rows.map((r) => [r.probe, r.ok]), [
    ['pf status', true],
    ['pf main ruleset: anchor "com.apple/*"', true],
    ['pf: no other nanopolicy anchor on 192.168.64.0/24', true],
    ['pf anchor com.apple/100.nanopolicy.nanoclaw-vm', true],
  ]);
  assert.ok(mac.calls.includes('sudo -n /sbin/pfctl -s info'));
  assert.ok(mac.calls.includes('sudo -n /sbin/pfctl -a com.apple/100.nanopolicy.nanoclaw-vm -sr'));
});

test('an extra pass rule is named', async () => {
  const rows = await checkPf(policy, artifactsFor(policy), fakeMac(`${PRINTED}pass in quick inet proto tcp from 192.168.64.0/24 to 192.168.64.1 port = ssh flags S/SA keep state\n`).run);
  const anchor = rows.at(-1)!;
  assert.is(anchor.ok, false);
  assert.match(anchor.detail ?? '', /extra "pass in quick proto tcp from 192\.168\.64\.0\/24 to 192\.168\.64\.1 port 22"/);
});

test('an empty anchor, a disabled pf, and pfctl refused by sudo all fail', async () => {
  assert.is((await checkPf(policy, artifactsFor(policy), fakeMac('').run)).at(-1)!.measured, 'EMPTY');
  assert.is((await checkPf(policy, artifactsFor(policy), fakeMac(PRINTED, 'Status: Disabled').run))[0]!.ok, false);
  const refused: RunCommand = async () => ({ exitCode: 1, stdout: '', stderr: 'sudo: a password is required' });
  const rows = await checkPf(policy, artifactsFor(policy), refused);
  assert.equal(rows.map((r) => [r.measured, r.ok]), [['UNKNOWN', false]]);
  assert.match(rows[0]!.detail ?? '', /sudoers/);
});

test('ports printed by their macOS names (services file) compare as compiled', async () => {
  const services = join(root, 'test/fixtures/macos/services');
  const named = PRINTED.replace(/port = 18443 /, 'port = np-test-beta ');
  assert.ok(named !== PRINTED);
  assert.is((await checkPf(policy, artifactsFor(policy), fakeMac(named).run, { servicesFile: services })).at(-1)!.ok, true);
  assert.is((await checkPf(policy, artifactsFor(policy), fakeMac(named).run, { servicesFile: join(root, 'no-such-services') })).at(-1)!.ok, false);
});

test('another VM\'s nanopolicy anchor on the same subnet is reported by name', async () => {
  const other = { 'com.apple/100.nanopolicy.second-vm': 'block return in log quick inet from 192.168.64.0/24 to any\n' };
  const cages = (rows: Awaited<ReturnType<typeof checkPf>>) => rows.find((r) => r.probe.startsWith('pf: no other'))!;
  const row = cages(await checkPf(policy, artifactsFor(policy), fakeMac(PRINTED, undefined, other).run));
  assert.equal([row.ok, row.measured], [false, 'FOUND']);
  assert.match(row.detail ?? '', /"com\.apple\/100\.nanopolicy\.second-vm" \(192\.168\.64\.0\/24\)/);
  const elsewhere = { 'com.apple/100.nanopolicy.second-vm': 'block return in log quick inet from 10.211.55.0/24 to any\n' };
  assert.is(cages(await checkPf(policy, artifactsFor(policy), fakeMac(PRINTED, undefined, elsewhere).run)).ok, true);
});

test('a door rule that lost its tag (its high port open to direct dials) fails the comparison', async () => {
  const untagged = PRINTED.replace('port = 13129 flags S/SA keep state tagged NP_EGRESS_DOOR', 'port = 13129 flags S/SA keep state');
  assert.ok(untagged !== PRINTED);
  assert.is((await checkPf(policy, artifactsFor(policy), fakeMac(untagged).run)).at(-1)!.ok, false);
  assert.is((await checkPf(policy, artifactsFor(policy), fakeMac(PRINTED).run)).at(-1)!.ok, true);
});

test.run();
