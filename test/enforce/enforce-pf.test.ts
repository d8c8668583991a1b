// enforce on a fake Mac: golden command plans, a failure at every step rolled back completely,
// undo failures, idempotence, the lock, --down twice, --dry-run.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BIN, fakeMac, gone, type FakeMac } from './harness.ts';

const GOLDEN = join(import.meta.dirname, 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

// Compares text with a golden file (paths of the temp dir replaced by <root>); UPDATE_GOLDEN=1 rewrites.
// A spawned program (tart run, socat) logs its own call once it is up, which may be after the next
// command: put each spawned call back where enforce started it, just before the next command.
function callsInOrder(f: FakeMac): string {
  const calls = f.calls().filter((c) => !c.startsWith('pfctl '));
  const out: string[] = [];
  for (const c of calls) {
    if (/^tart run /.test(c) && out.at(-1) === 'ifconfig') out.splice(out.length - 1, 0, c);
    else out.push(c);
  }
  return `${out.join('\n')}\n`;
}

function golden(name: string, text: string, f: FakeMac): void {
  const normalized = text.split(BIN).join('<bin>').split(f.root).join('<root>').replace(/pid \d+/g, 'pid <n>').replace(/[0-9a-f]{64}/g, '<sha256>');
  const path = join(GOLDEN, name);
  if (UPDATE || !existsSync(path)) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(path, normalized);
    if (!UPDATE) throw new Error(`golden ${name} was missing and has been written; check it and run again`);
  }
  assert.fixture(normalized, readFileSync(path, 'utf8'));
}

const MUTATING = /pfctl .*(-f -|-E|-X|-F all|-k)|^tart (run|stop)|^socat/;
const PF = ['--backend', 'pf', '--wait', '3'];

const t = suite('enforce --backend pf (fake Mac)');
let f: FakeMac;
t.before.each(() => {
  f = fakeMac();
});
t.after.each(() => f.cleanup());

t('applies in the golden order and leaves the anchor, a token, the VM and the bridges', async () => {
  const r = await f.enforce([f.policy, ...PF]);
  assert.is(r.code, 0, r.stderr);
  golden('pf-apply.calls', callsInOrder(f), f);
  const left = f.leftovers();
  assert.equal(left.anchors, ['com.apple%100.nanopolicy.t-vm']);
  assert.is(left.tokens.length, 1);
  assert.is(left.vm, 'running');
  assert.is(left.socat.length, 2);
  const state = JSON.parse(readFileSync(join(f.stateDir, 'state.json'), 'utf8'));
  assert.is(state.complete, true);
  assert.is(state.iface, 'bridge101', 'found by the gateway address: another hypervisor holds bridge100');
  assert.is(state.vmAddress, '192.168.64.5');
  assert.ok(!f.calls().some((c) => /pfctl.* -d\b/.test(c)), 'never pfctl -d');
  f.clearCalls();
  const down = await f.enforce([f.policy, ...PF, '--down']);
  assert.is(down.code, 0, down.stderr);
  golden('pf-down.calls', callsInOrder(f), f);
});

t('a second enforce changes nothing and says so', async () => {
  assert.is((await f.enforce([f.policy, ...PF])).code, 0);
  f.clearCalls();
  const again = await f.enforce([f.policy, ...PF]);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stdout, /already in force .*nothing changed/);
  assert.equal(f.calls().filter((c) => MUTATING.test(c)), []);
  await f.enforce([f.policy, ...PF, '--down']);
});

t('a state that no longer holds is refused, not half-repaired', async () => {
  assert.is((await f.enforce([f.policy, ...PF])).code, 0);
  const bridges = f.leftovers().socat;
  for (const pid of bridges) process.kill(pid, 'SIGKILL');
  await gone(bridges);
  const again = await f.enforce([f.policy, ...PF]);
  assert.is(again.code, 3);
  assert.match(again.stderr, /no longer holds: the bridge "alpha" .* is not running/);
  assert.match(again.stderr, /--down/);
  assert.is((await f.enforce([f.policy, ...PF, '--down'])).code, 0);
  assert.equal(f.leftovers(), { anchors: [], tokens: [], vm: 'stopped', socat: [], state: false });
});

t('--down twice is fine, and --down with nothing applied still flushes the anchor', async () => {
  assert.is((await f.enforce([f.policy, ...PF])).code, 0);
  const one = await f.enforce([f.policy, ...PF, '--down']);
  assert.is(one.code, 0, one.stderr);
  const two = await f.enforce([f.policy, ...PF, '--down']);
  assert.is(two.code, 0, two.stderr);
  assert.match(two.stdout, /nothing was recorded/);
  assert.equal(f.leftovers(), { anchors: [], tokens: [], vm: 'stopped', socat: [], state: false });
});

t('the lock stops a second enforce while one runs; a stale lock is taken over', async () => {
  mkdirSync(f.stateDir, { recursive: true });
  const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    writeFileSync(join(f.stateDir, 'lock'), `${holder.pid}\n`);
    const r = await f.enforce([f.policy, ...PF]);
    assert.is(r.code, 3);
    assert.match(r.stderr, new RegExp(`another nanopolicy enforce \\(pid ${holder.pid}\\)`));
    assert.equal(f.calls().filter((c) => MUTATING.test(c)), []);
  } finally {
    holder.kill('SIGKILL');
  }
  await new Promise((r) => holder.once('exit', r));
  const r = await f.enforce([f.policy, ...PF]);
  assert.is(r.code, 0, r.stderr);
  assert.not.ok(existsSync(join(f.stateDir, 'lock')), 'lock released after the run');
  await f.enforce([f.policy, ...PF, '--down']);
});

t('--dry-run prints every command with its undo and the anchor diff, and changes nothing', async () => {
  const r = await f.enforce([f.policy, ...PF, '--dry-run']);
  assert.is(r.code, 0, r.stderr);
  golden('pf-dry-run.txt', r.stdout, f);
  assert.equal(f.calls().filter((c) => MUTATING.test(c)), []);
});

t('preflight: a main ruleset without com.apple/* fails with the fix, nothing changed', async () => {
  writeFileSync(join(f.fakeState, 'main-rules'), 'scrub-anchor "com.apple/*" all fragment reassemble\n');
  const r = await f.enforce([f.policy, ...PF]);
  assert.is(r.code, 3);
  assert.match(r.stderr, /no `anchor "com.apple\/\*"` line/);
  assert.match(r.stderr, /fix: Reload the stock rules: sudo pfctl -f \/etc\/pf.conf/);
  assert.equal(f.calls().filter((c) => MUTATING.test(c)), []);
  assert.not.ok(existsSync(join(f.stateDir, 'state.json')));
});

t('preflight: a running VM, a missing share and a missing socat are all reported at once', async () => {
  writeFileSync(join(f.fakeState, 'vm'), 'running');
  const r = await f.enforce([f.policy, ...PF], { PATH: `${join(f.root, 'nobin')}:${f.env.PATH!.split(':').filter((p) => !/socat/.test(p)).join(':')}` });
  assert.is(r.code, 3);
  assert.match(r.stderr, /already running/);
  writeFileSync(join(f.fakeState, 'vm'), 'stopped');
  const missing = fakeMac((root) => `vm t-vm\nmount gone ${root}/gone rw\n`);
  try {
    const m = await missing.enforce([missing.policy, ...PF]);
    assert.is(m.code, 3);
    assert.match(m.stderr, /The share "gone" folder ".*\/gone" does not exist/);
  } finally {
    missing.cleanup();
  }
});

// Each step of the plan, and a fake failure that makes exactly it fail.
const FAILURES: Array<[step: string, fail: string]> = [
  ['load-anchor', 'pfctl:-f -@1'],
  ['kill-states', 'pfctl:-k@1'],
  ['enable-pf', 'pfctl:-E'],
  ['check-anchor', 'pfctl:-a com.apple/100.nanopolicy.t-vm -sr@1'],
  ['start-vm', 'tart:run'],
  ['find-interface', 'ifconfig:'],
  ['vm-address', 'tart:ip --wait'],
  ['reload-anchor', 'pfctl:-D vm_if'],
  ['bridge:alpha', 'socat:LISTEN:18080'],
  ['bridge:beta', 'socat:LISTEN:18443'],
  ['recheck-pf', 'pfctl:-s info@3'],
];

for (const [step, spec] of FAILURES) {
  t(`a failure in "${step}" undoes everything: no anchor, token, VM, bridge or state; exit 3`, async () => {
    const r = await f.enforce([f.policy, ...PF], { NANOPOLICY_FAKE_FAIL: spec });
    assert.is(r.code, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`step "${step}" failed`));
    assert.match(r.stderr, /nothing is left changed/);
    const left = f.leftovers();
    assert.equal(left.anchors, []);
    assert.equal(left.tokens, []);
    assert.not.equal(left.vm, 'running');
    assert.equal(left.socat, []);
    assert.is(left.state, false);
    assert.not.ok(existsSync(join(f.stateDir, 'lock')));
  });
}

t('an undo that fails too gives exit 4, the exact manual commands, and a state --down can finish', async () => {
  const r = await f.enforce([f.policy, ...PF], { NANOPOLICY_FAKE_FAIL: 'socat:LISTEN:18443,pfctl:-F all' });
  assert.is(r.code, 4, r.stderr);
  assert.match(r.stderr, /could not undo everything\. Run these commands yourself:/);
  assert.match(r.stderr, /\n {2}sudo -n \/sbin\/pfctl -a com\.apple\/100\.nanopolicy\.t-vm -F all\n/);
  const left = f.leftovers();
  assert.equal(left.tokens, [], 'the other undos still ran');
  assert.equal(left.socat, []);
  assert.is(left.state, true);
  const down = await f.enforce([f.policy, ...PF, '--down']);
  assert.is(down.code, 0, down.stderr);
  assert.equal(f.leftovers(), { anchors: [], tokens: [], vm: 'stopped', socat: [], state: false });
});

t('--json prints one record per outcome: applied, unchanged, preflight problems, a failed undo, down', async () => {
  const applied = await f.enforce([f.policy, ...PF, '--json']);
  assert.is(applied.code, 0, applied.stderr);
  const a = JSON.parse(applied.stdout);
  assert.equal([a.ok, a.result, a.vm, a.rules], [true, 'applied', 't-vm', 'com.apple/100.nanopolicy.t-vm']);
  assert.equal(a.applied.bridges.map((b: { name: string }) => b.name), ['alpha', 'beta']);
  assert.is(JSON.parse((await f.enforce([f.policy, ...PF, '--json'])).stdout).result, 'unchanged');
  const down = JSON.parse((await f.enforce([f.policy, ...PF, '--down', '--json'])).stdout);
  assert.equal([down.ok, down.result], [true, 'down']);

  const undo = await f.enforce([f.policy, ...PF, '--json'], { NANOPOLICY_FAKE_FAIL: 'socat:LISTEN:18443,pfctl:-F all' });
  assert.is(undo.code, 4);
  const u = JSON.parse(undo.stdout);
  assert.equal([u.ok, u.result, u.failedStep], [false, 'undo-failed', 'bridge:beta']);
  assert.ok(u.manual.some((m: { commands: string[] }) => m.commands.includes('sudo -n /sbin/pfctl -a com.apple/100.nanopolicy.t-vm -F all')));
  await f.enforce([f.policy, ...PF, '--down']);

  writeFileSync(join(f.fakeState, 'main-rules'), 'scrub-anchor "com.apple/*" all fragment reassemble\n');
  const pre = await f.enforce([f.policy, ...PF, '--json']);
  const p = JSON.parse(pre.stdout);
  assert.is(pre.code, 3);
  assert.equal([p.ok, p.result], [false, 'preflight']);
});

t.run();

// ---- macOS fidelity (issue 11): each of these failed on the code before it. ----

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
  const r = await g.enforce([g.policy, ...PF], { NANOPOLICY_FAKE_SUDO_NOPASSWD: 'pfctl,softnet' });
  assert.is(r.code, 0, r.stderr);
  assert.ok(g.calls().some((c) => /^sudo -n \S*softnet --vm-fd 0 --vm-mac-address \S+ --allow 192\.168\.64\.1\/32 --block 0\.0\.0\.0\/0 --sudo-escalation-probing$/.test(c)), g.calls().join('\n'));
  assert.not.ok(g.calls().includes('sudo -n true'));
  await g.enforce([g.policy, ...PF, '--down'], { NANOPOLICY_FAKE_SUDO_NOPASSWD: 'pfctl,softnet' });
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
