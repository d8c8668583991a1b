// What pf evaluates before our anchor, read from recorded pfctl output on a fake Mac: `set skip` on
// the VM's interface, and quick pass rules for the VM's traffic in the main ruleset or in anchors
// that come first. Each case is something a careless owner (or another tool) could leave behind.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compilePolicy } from '../../../src/compiler/compile.ts';
import { artifactsFor } from '../../../src/compiler/artifacts-from-emitters.ts';
import { beforeAppleAnchor, checkPfPrecedence, passesVmTraffic, skippedInterface } from '../../../src/verify/host/pf-precedence.ts';
import type { RunCommand } from '../../../src/host/run-command.ts';

const root = join(import.meta.dirname, '../../..');
const policy = compilePolicy({ file: 'policy/nanoclaw.policy', source: readFileSync(join(root, 'policy/nanoclaw.policy'), 'utf8'), home: '/Users/owner', cwd: '/Users/owner/cfg' }).policy!;
const IFCONFIG = 'bridge101: flags=8863<UP,BROADCAST,RUNNING> mtu 1500\n\tinet 192.168.64.1 netmask 0xffffff00 broadcast 192.168.64.255\n';
const MAIN = 'scrub-anchor "com.apple/*" all fragment reassemble\nanchor "com.apple/*" all\n';
const ANCHORS = '  com.apple/100.nanopolicy.nanoclaw-vm\n  com.apple/200.AirDrop\n  com.apple/250.ApplicationFirewall\n';

// A fake Mac answering pfctl as recorded; `anchors` maps an anchor path to its `-sr` output.
function fakeMac(o: { main?: string; ifaces?: string; list?: string; anchors?: Record<string, string> } = {}): RunCommand {
  return async (argv) => {
    const cmd = argv.join(' ');
    const ok = (stdout: string) => ({ exitCode: 0, stdout, stderr: '' });
    if (argv[0] === 'ip') return { exitCode: 127, stdout: '', stderr: 'ip: not found' };
    if (argv[0] === 'ifconfig') return ok(IFCONFIG);
    if (cmd.endsWith('-s Interfaces -v')) return ok(o.ifaces ?? 'lo0 (skip)\nen0\nbridge101\n');
    if (cmd.endsWith('/sbin/pfctl -sr')) return ok(o.main ?? MAIN);
    if (cmd.endsWith('-a com.apple -s Anchors')) return ok(o.list ?? ANCHORS);
    const a = / -a (\S+) -sr$/.exec(cmd);
    if (a && o.anchors?.[a[1]!] !== undefined) return ok(o.anchors[a[1]!]!);
    if (a) return ok('');
    return { exitCode: 1, stdout: '', stderr: `unexpected ${cmd}` };
  };
}

test('a stock Mac: no skip, nothing passes the VM before our anchor', async () => {
  const rows = await checkPfPrecedence(policy, artifactsFor(policy), fakeMac(), true);
  assert.equal(rows.map((r) => r.ok), [true, true], JSON.stringify(rows));
});

test('"set skip on" the VM interface is named', async () => {
  const rows = await checkPfPrecedence(policy, artifactsFor(policy), fakeMac({ ifaces: 'lo0 (skip)\nbridge101 (skip)\n' }), true);
  assert.match(rows[0]!.detail!, /pf has "set skip on bridge101": it ignores the VM's interface/);
  assert.ok(skippedInterface('  bridge101 (skip)', 'bridge101'));
  assert.not.ok(skippedInterface('bridge1010 (skip)\nbridge101\n', 'bridge101'));
});

test('a quick pass in the main ruleset above the com.apple hook, or in an earlier sibling anchor, is named', async () => {
  const main = `pass in quick on bridge101 all flags S/SA keep state\n${MAIN}pass in quick all\n`;
  let rows = await checkPfPrecedence(policy, artifactsFor(policy), fakeMac({ main }), true);
  assert.match(rows[1]!.detail!, /main ruleset: "pass in quick on bridge101 all/);
  assert.not.match(rows[1]!.detail!, /pass in quick all"/, 'rules after the hook come after ours');
  const list = `  com.apple/050.vpn\n${ANCHORS}`;
  rows = await checkPfPrecedence(policy, artifactsFor(policy), fakeMac({ list, anchors: { 'com.apple/050.vpn': 'pass in quick inet from 192.168.0.0/16 to any keep state\n', 'com.apple/200.AirDrop': 'pass in quick all\n' } }), true);
  assert.match(rows[1]!.detail!, /anchor "com\.apple\/050\.vpn": "pass in quick inet from 192\.168\.0\.0\/16/);
  assert.not.match(rows[1]!.detail!, /AirDrop/, 'siblings after ours do not matter');
  const called = `anchor "corp/*" all\n${MAIN}`;
  rows = await checkPfPrecedence(policy, artifactsFor(policy), fakeMac({ main: called, anchors: { 'corp/*': 'pass in quick from <trusted> to any\n' } }), true);
  assert.match(rows[1]!.detail!, /anchor "corp\/\*": "pass in quick from <trusted>/);
});

test('which rules may match the VM', () => {
  const m = (r: string) => passesVmTraffic(r, '192.168.64.0/24', 'bridge101');
  assert.ok(m('pass in quick all'));
  assert.ok(m('pass quick inet from 192.168.64.5 to any'));
  assert.ok(m('pass in quick from <friends> to any'));
  assert.not.ok(m('pass in all'), 'not quick: our quick rules still decide');
  assert.not.ok(m('pass out quick all'));
  assert.not.ok(m('pass in quick on en0 all'));
  assert.not.ok(m('pass in quick inet from 10.0.0.0/8 to any'));
  assert.not.ok(m('block in quick all'));
  assert.equal(beforeAppleAnchor(`pass in quick all\nanchor "x"\n${MAIN}pass all\n`), { rules: ['pass in quick all'], anchors: ['x'] });
});

test('without root the checks say what they could not read', async () => {
  const denied: RunCommand = async (argv) => (argv[0] === 'sudo' ? { exitCode: 1, stdout: '', stderr: 'sudo: a password is required' } : fakeMac()(argv));
  const rows = await checkPfPrecedence(policy, artifactsFor(policy), denied, false);
  assert.equal(rows.map((r) => r.ok), [false, false]);
  assert.match(rows[0]!.detail!, /run verify as root/);
});

test.run();
