// enforce on a fake Mac: golden command plans, idempotence, the lock, --down twice, --dry-run,
// preflight, --json. A failure at every step: enforce-pf-rollback.test.ts; the tools as macOS
// has them: enforce-pf-macos.test.ts.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BIN, fakeMac, gone, MUTATING, PF, PORT, type FakeMac } from './harness.ts';

const GOLDEN = join(import.meta.dirname, 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

// Compares text with a golden file (paths of the temp dir replaced by <root>, this process's bridge
// ports by slot 0's, 18080 and 18443); UPDATE_GOLDEN=1 rewrites.
// A spawned program (tart run, socat) logs its own call once it is up, which may be after the next
// command: put each spawned call back where enforce started it, just before the next command.
function callsInOrder(f: FakeMac): string {
  const all = f.calls().filter((c) => !c.startsWith('pfctl '));
  // The preflight's checks run at once, so their calls (all before the first change, loading the
  // anchor) come in any order: sorted. From the first change on, the order is the plan's.
  const first = all.findIndex((c) => / -f -$/.test(c));
  const key = (c: string) => c.split(BIN).join('<bin>'); // not where this checkout happens to be
  const calls = first < 0 ? all : [...all.slice(0, first).sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)), ...all.slice(first)];
  const out: string[] = [];
  for (const c of calls) {
    if (/^tart run /.test(c) && out.at(-1) === 'ifconfig') out.splice(out.length - 1, 0, c);
    else out.push(c);
  }
  return `${out.join('\n')}\n`;
}

function golden(name: string, text: string, f: FakeMac): void {
  const normalized = text
    .replace(new RegExp(`\\b(${PORT.alpha}|${PORT.beta})\\b`, 'g'), (p) => (p === String(PORT.alpha) ? '18080' : '18443'))
    .split(BIN).join('<bin>').split(f.root).join('<root>')
    // The collector's command names this machine's node and this checkout's dist/.
    .split(process.execPath).join('<node>').split(join(import.meta.dirname, '../..')).join('<repo>')
    .replace(/pid \d+/g, 'pid <n>').replace(/[0-9a-f]{64}/g, '<sha256>');
  const path = join(GOLDEN, name);
  if (UPDATE || !existsSync(path)) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(path, normalized);
    if (!UPDATE) throw new Error(`golden ${name} was missing and has been written; check it and run again`);
  }
  assert.fixture(normalized, readFileSync(path, 'utf8'));
}

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

t('--dry-run runs the preflight and marks what would fail, with the fix, changing nothing', async () => {
  writeFileSync(join(f.fakeState, 'vm'), 'running');
  const r = await f.enforce([f.policy, ...PF, '--dry-run']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, '  - [WOULD FAIL] Check the VM "t-vm" exists and is stopped (not running, not suspended)\n      check: tart list --format json\n      problem: The VM "t-vm" is already running');
  assert.match(r.stdout, '      fix: Stop it (tart stop t-vm)');
  assert.match(r.stdout, '  - [would pass] Check "sudo -n pfctl" works without a password');
  assert.match(r.stdout, 'Preflight: 1 problem; enforce would stop before changing anything.');
  const json = await f.enforce([f.policy, ...PF, '--dry-run', '--json']);
  assert.equal(JSON.parse(json.stdout).problems.map((p: { check: string }) => p.check), ['vm']);
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

t('--json prints one record per outcome: applied, unchanged, preflight problems, a failed undo, down', async () => {
  const applied = await f.enforce([f.policy, ...PF, '--json']);
  assert.is(applied.code, 0, applied.stderr);
  const a = JSON.parse(applied.stdout);
  assert.equal([a.ok, a.result, a.vm, a.rules], [true, 'applied', 't-vm', 'com.apple/100.nanopolicy.t-vm']);
  assert.equal(a.applied.bridges.map((b: { name: string }) => b.name), ['alpha', 'beta']);
  assert.is(JSON.parse((await f.enforce([f.policy, ...PF, '--json'])).stdout).result, 'unchanged');
  const down = JSON.parse((await f.enforce([f.policy, ...PF, '--down', '--json'])).stdout);
  assert.equal([down.ok, down.result], [true, 'down']);

  const undo = await f.enforce([f.policy, ...PF, '--json'], { NANOPOLICY_FAKE_FAIL: `socat:LISTEN:${PORT.beta},pfctl:-F all` });
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
