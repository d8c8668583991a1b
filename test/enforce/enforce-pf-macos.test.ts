// enforce --backend pf on a fake Mac whose pfctl, tart, softnet and sudo behave as the real ones
// (macOS fidelity, issue 11): each of these failed on the code before it.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BIN, fakeMac, MUTATING, PF, type FakeMac } from './harness.ts';

const fm = suite('enforce --backend pf: pfctl, tart and softnet as they really behave');
let g: FakeMac;
fm.before.each(() => {
  g = fakeMac();
});
fm.after.each(() => g.cleanup());

// This process's session id: the fake sudo ties a cached password ("tty ticket") to it.
function mySessionId(): string {
  return readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ')[3]!;
}

fm('bridges on ports macOS names (8080 http-alt, 5000 commplex-main) pass the read-back', async () => {
  const named = fakeMac((root) => `vm t-vm\nallow alpha 198.51.100.10:443 via 8080\nallow beta 198.51.100.11:443 via 5000\nmount work ${root}/work rw\n`);
  try {
    const r = await named.enforce([named.policy, ...PF]);
    assert.is(r.code, 0, r.stderr);
    const printed = readFileSync(join(named.fakeState, 'anchors', 'com.apple%100.nanopolicy.t-vm'), 'utf8');
    assert.match(printed, /port = http-alt flags S\/SA keep state/);
    assert.match(printed, /port = commplex-main flags S\/SA keep state/);
    assert.is((await named.enforce([named.policy, ...PF])).code, 0, 'a second run compares too');
    assert.is((await named.enforce([named.policy, ...PF, '--down'])).code, 0);
  } finally {
    named.cleanup();
  }
});

fm('--down after someone ran "pfctl -d" and re-enabled pf: our token is gone, said so, not a failed undo', async () => {
  assert.is((await g.enforce([g.policy, ...PF])).code, 0);
  // `pfctl -d` drops every reference (xnu DIOCSTOP invalidate_all_tokens); someone's `pfctl -E` takes a new one.
  writeFileSync(join(g.fakeState, 'tokens'), '424242\n');
  const down = await g.enforce([g.policy, ...PF, '--down']);
  assert.is(down.code, 0, down.stderr);
  assert.match(down.stderr, /pf reference \d+ was already released \(pf: token invalid\)/);
  assert.equal(g.leftovers().tokens, ['424242'], "the other holder's reference is left alone");
  // pf off altogether (a reboot, or -d without a re-enable): "pf not enabled", also already released.
  assert.is((await g.enforce([g.policy, ...PF])).code, 0);
  writeFileSync(join(g.fakeState, 'tokens'), '');
  const again = await g.enforce([g.policy, ...PF, '--down']);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stderr, /already released \(pf not enabled\)/);
});

fm('a suspended VM is refused in preflight, with "tart stop" as the fix', async () => {
  writeFileSync(join(g.fakeState, 'suspended'), 't-vm\n');
  const r = await g.enforce([g.policy, ...PF]);
  assert.is(r.code, 3, r.stderr);
  assert.match(r.stderr, /preflight "vm": The VM "t-vm" is suspended/);
  assert.match(r.stderr, /fix: Discard the saved state with "tart stop t-vm"/);
  assert.equal(g.calls().filter((c) => MUTATING.test(c)), []);
});

fm('tart older than 2.30.0 and softnet older than 0.16.0 are refused with the upgrade', async () => {
  const r = await g.enforce([g.policy, ...PF], { NANOPOLICY_FAKE_TART_VERSION: '2.29.4', NANOPOLICY_FAKE_SOFTNET_VERSION: '0.15.2' });
  assert.is(r.code, 3, r.stderr);
  assert.match(r.stderr, /tart 2\.29\.4 is older than 2\.30\.0[^\n]*\n {2}fix: brew upgrade cirruslabs\/cli\/tart/);
  assert.match(r.stderr, /softnet is older than 0\.16\.0[^\n]*\n {2}fix: brew upgrade cirruslabs\/cli\/softnet/);
  const ok = await g.enforce([g.policy, ...PF, '--dry-run'], { NANOPOLICY_FAKE_TART_VERSION: '2.30.0', NANOPOLICY_FAKE_SOFTNET_VERSION: '0.16.0' });
  assert.is(ok.code, 0, ok.stderr);
});

fm('softnet: a sudo rule for softnet alone is enough (no "sudo -n true")', async () => {
  // The sudoers file's programs: pfctl, and tcpdump for the firewall-log collector; softnet's own rule.
  const r = await g.enforce([g.policy, ...PF], { NANOPOLICY_FAKE_SUDO_NOPASSWD: 'pfctl,softnet,tcpdump' });
  assert.is(r.code, 0, r.stderr);
  assert.ok(g.calls().some((c) => /^sudo -n \S*softnet --vm-fd 0 --vm-mac-address \S+ --allow 192\.168\.64\.1\/32 --block 0\.0\.0\.0\/0 --sudo-escalation-probing$/.test(c)), g.calls().join('\n'));
  assert.not.ok(g.calls().includes('sudo -n true'));
  assert.ok(g.calls().includes('sudo -n tcpdump -n -l -q -e -i pflog0'), 'the collector runs tcpdump on pflog0 through sudo -n');
  await g.enforce([g.policy, ...PF, '--down'], { NANOPOLICY_FAKE_SUDO_NOPASSWD: 'pfctl,softnet,tcpdump' });
});

fm('softnet: a password cached on this terminal does not count (softnet runs without it)', async () => {
  const r = await g.enforce([g.policy, ...PF], { NANOPOLICY_FAKE_SUDO_NOPASSWD: 'pfctl', NANOPOLICY_FAKE_SUDO_TIMESTAMP_SID: mySessionId() });
  assert.is(r.code, 3, r.stderr);
  assert.match(r.stderr, /preflight "softnet": softnet .* cannot escalate itself/);
  assert.match(r.stderr, /sudo: a password is required/);
});

fm('--wait is what "tart ip --wait" takes: a whole number 0..65535, else exit 64', async () => {
  for (const bad of ['1.5', '65536', '-1', '1e3']) {
    let r: { code: number; stderr: string };
    try {
      r = await g.enforce([g.policy, '--backend', 'pf', '--wait', bad, '--dry-run']);
    } catch (error) {
      r = { code: -1, stderr: String(error) };
    }
    assert.is(r.code, 64, `--wait ${bad}: ${r.stderr}`);
  }
  assert.is((await g.enforce([g.policy, '--backend', 'pf', '--wait', '65535', '--dry-run'])).code, 0);
});

fm('"tart ip" that waits for the lease: enforce waits with it', async () => {
  const r = await g.enforce([g.policy, ...PF], { NANOPOLICY_FAKE_IP_DELAY_MS: '1200' });
  assert.is(r.code, 0, r.stderr);
  assert.is(JSON.parse(readFileSync(join(g.stateDir, 'state.json'), 'utf8')).vmAddress, '192.168.64.5');
  await g.enforce([g.policy, ...PF, '--down']);
});

fm('another VM\'s nanopolicy anchor on the same subnet is refused by name; one elsewhere is not', async () => {
  const other = join(g.fakeState, 'anchors', 'com.apple%100.nanopolicy.other-vm');
  mkdirSync(join(g.fakeState, 'anchors'), { recursive: true });
  writeFileSync(other, 'pass in quick inet proto tcp from 192.168.64.0/24 to 192.168.64.1 port = 19000 flags S/SA keep state\nblock return in log quick inet from 192.168.64.0/24 to any\n');
  const r = await g.enforce([g.policy, ...PF]);
  assert.is(r.code, 3, r.stderr);
  assert.match(r.stderr, /preflight "other-cages": The nanopolicy anchor "com\.apple\/100\.nanopolicy\.other-vm" is in force on 192\.168\.64\.0\/24/);
  assert.match(r.stderr, /fix: Take that cage down first/);
  writeFileSync(other, 'block return in log quick inet from 10.211.55.0/24 to any\n');
  const ok = await g.enforce([g.policy, ...PF]);
  assert.is(ok.code, 0, ok.stderr);
  await g.enforce([g.policy, ...PF, '--down']);
});

fm('the fake tools answer as the real ones: tart list JSON, tart stop on a stopped VM, pfctl -X', () => {
  const env = { ...process.env, ...g.env };
  const list = spawnSync(join(BIN, 'tart'), ['list', '--format', 'json'], { env, encoding: 'utf8' });
  assert.is(list.status, 0);
  assert.match(list.stdout, /^\[\n {2}\{\n {4}"Source" : "local",\n {4}"Name" : "t-vm",\n {4}"Disk" : \d+,\n {4}"Size" : \d+,\n {4}"Accessed" : "[^"]+",\n {4}"Running" : false,\n {4}"State" : "stopped"\n {2}\}\n\]\n$/);
  const stop = spawnSync(join(BIN, 'tart'), ['stop', 't-vm'], { env, encoding: 'utf8' });
  assert.equal([stop.status, stop.stderr], [2, 'VM "t-vm" is not running\n']);
  const x = spawnSync(join(BIN, 'pfctl'), ['-X', '123'], { env, encoding: 'utf8' });
  assert.equal([x.status, x.stderr], [1, 'pfctl: pf not enabled\n']);
  const e = spawnSync(join(BIN, 'pfctl'), ['-E'], { env, encoding: 'utf8' });
  assert.equal([e.status, e.stdout], [0, '']);
  assert.match(e.stderr, /^pf enabled\nToken : \d+\n$/);
});

fm.run();
