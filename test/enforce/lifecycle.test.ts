// Reboots, crashes, teardown order and name targets on the fake Mac: nothing standing is a fresh
// start; parts standing are removed (VM stopped) or refused with the exact commands (VM running);
// --down never leaves a running VM without its anchor, also with --no-start; a failed `tart stop`
// keeps the anchor; bridge names resolving to the host or the VM network are refused, and
// --supervise follows (or refuses) a changed answer.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { networkInterfaces, uptime } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { applyLocked, lockSession } from '../../src/enforce/apply.ts';
import { openSession } from '../../src/enforce/session.ts';
import { superviseLocked } from '../../src/enforce/supervise.ts';
import { fakeMac, gone, POLICY, type FakeMac } from './harness.ts';

const PF = ['--backend', 'pf', '--wait', '3'];
const t = suite('enforce lifecycle (fake Mac)');
let f: FakeMac;
t.before.each(() => {
  f = fakeMac();
});
t.after.each(() => f.cleanup());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (what: () => boolean, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!what() && Date.now() < end) await sleep(50);
  return what();
};

// What a reboot leaves of the fake Mac: no process, no anchor, no pf reference, the VM stopped;
// and what enforce wrote before it (the state, its pf tokens) is older than the boot.
async function reboot(): Promise<void> {
  const before = (Date.now() - uptime() * 1000 - 60_000) / 1000;
  utimesSync(join(f.stateDir, 'state.json'), before, before);
  const killed = f.leftovers().socat;
  for (const pid of killed) process.kill(pid, 'SIGKILL');
  const vmPid = join(f.fakeState, 'vm.pid');
  if (existsSync(vmPid)) {
    killed.push(Number(readFileSync(vmPid, 'utf8')));
    try {
      process.kill(killed.at(-1)!, 'SIGKILL');
    } catch {
      // gone
    }
  }
  writeFileSync(join(f.fakeState, 'vm'), 'stopped');
  for (const a of readdirSync(join(f.fakeState, 'anchors'))) rmSync(join(f.fakeState, 'anchors', a));
  writeFileSync(join(f.fakeState, 'tokens'), '');
  await gone(killed);
}

t('after a reboot that left nothing standing, enforce is a fresh start and says so; so is a lock from before the boot', async () => {
  assert.is((await f.enforce([f.policy, ...PF])).code, 0);
  await reboot();
  // The old lock names a pid that is alive again after the boot (here: some other process).
  const other = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const lock = join(f.stateDir, 'lock');
    writeFileSync(lock, `${other.pid}\n`);
    const before = (Date.now() - uptime() * 1000 - 60_000) / 1000;
    utimesSync(lock, before, before);
    const r = await f.enforce([f.policy, ...PF, '--json']);
    assert.is(r.code, 0, r.stderr);
    const record = JSON.parse(r.stdout);
    assert.equal([record.result, record.earlier.how], ['applied', 'fresh']);
    assert.match(r.stderr, /left nothing standing .*: starting afresh/);
    assert.match(r.stderr, /the pf reference token\(s\) \d+ recorded in .* are from before the last boot: the reboot voided them; dropped from the record without "pfctl -X"/);
    assert.equal(record.earlier.voidTokens.length, 1);
    assert.equal(f.calls().filter((c) => c.includes(`-X ${record.earlier.voidTokens[0]}`)), [], 'a void token is never released');
    const left = f.leftovers();
    assert.equal([left.anchors.length, left.tokens.length, left.vm, left.socat.length], [1, 1, 'running', 2]);
  } finally {
    other.kill('SIGKILL');
  }
  const text = await f.enforce([f.policy, ...PF]);
  assert.match(text.stdout, /already in force/);
  assert.is((await f.enforce([f.policy, ...PF, '--down'])).code, 0);
  assert.equal(f.leftovers(), { anchors: [], tokens: [], vm: 'stopped', socat: [], state: false });
});

t('--down after a reboot drops the void pf token with a note and never runs "pfctl -X" on it', async () => {
  const up = JSON.parse((await f.enforce([f.policy, ...PF, '--json'])).stdout);
  const [token] = up.applied.tokens as string[];
  await reboot();
  // Another program's reference that now carries the old number (xnu makes token values from
  // kernel addresses): releasing the recorded token blindly would release it.
  writeFileSync(join(f.fakeState, 'tokens'), `${token}\n`);
  f.clearCalls();
  const down = await f.enforce([f.policy, ...PF, '--down']);
  assert.is(down.code, 0, down.stderr);
  assert.match(down.stderr, new RegExp(`token\\(s\\) ${token} recorded in .* are from before the last boot`));
  assert.equal(f.calls().filter((c) => / -X /.test(c)), []);
  assert.equal(f.leftovers().tokens, [token], "the other program's reference stays");
});

t('a crash without a reboot: the pf token still held is released before the fresh start', async () => {
  const up = JSON.parse((await f.enforce([f.policy, ...PF, '--json'])).stdout);
  const [token] = up.applied.tokens as string[];
  // The VM and bridges died and the anchor was flushed, but no reboot: pf still holds our reference.
  for (const pid of f.leftovers().socat) process.kill(pid, 'SIGKILL');
  writeFileSync(join(f.fakeState, 'vm'), 'stopped');
  await gone([Number(readFileSync(join(f.fakeState, 'vm.pid'), 'utf8'))]);
  for (const a of readdirSync(join(f.fakeState, 'anchors'))) rmSync(join(f.fakeState, 'anchors', a));
  f.clearCalls();
  const r = await f.enforce([f.policy, ...PF, '--json']);
  assert.is(r.code, 0, r.stderr);
  const rec = JSON.parse(r.stdout);
  assert.is(rec.earlier.how, 'repaired');
  assert.ok(rec.earlier.removed.some((p: string) => p.includes(`token(s) ${token} may still be held`)), rec.earlier.removed);
  assert.ok(f.calls().some((c) => c.endsWith(`-X ${token}`)), 'the old reference was released');
  assert.equal(f.leftovers().tokens.length, 1, 'only the new reference is held');
  await f.enforce([f.policy, ...PF, '--down']);
});

t('parts left standing with the VM stopped are removed first, then applied afresh', async () => {
  assert.is((await f.enforce([f.policy, ...PF])).code, 0);
  const oldBridges = f.leftovers().socat;
  writeFileSync(join(f.fakeState, 'vm'), 'stopped'); // the VM shut down; the supervisor was not running
  await gone([Number(readFileSync(join(f.fakeState, 'vm.pid'), 'utf8'))]);
  const r = await f.enforce([f.policy, ...PF]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /no longer held \(the VM enforce started has exited\); removed what was left of it \(.*is loaded; the bridge "alpha" \(pid \d+\) runs/);
  const left = f.leftovers();
  assert.equal(left.socat.filter((p) => oldBridges.includes(p)), [], 'the old bridges are gone');
  assert.equal([left.anchors.length, left.tokens.length, left.vm, left.socat.length], [1, 1, 'running', 2]);
  assert.is((await f.enforce([f.policy, ...PF, '--down'])).code, 0);
});

t('parts standing next to a running VM are refused with the exact commands, nothing changed', async () => {
  assert.is((await f.enforce([f.policy, ...PF])).code, 0);
  const bridges = f.leftovers().socat;
  for (const pid of bridges) process.kill(pid, 'SIGKILL');
  await gone(bridges);
  f.clearCalls();
  const r = await f.enforce([f.policy, ...PF, '--json']);
  assert.is(r.code, 3);
  const rec = JSON.parse(r.stdout);
  assert.is(rec.result, 'stale');
  assert.ok(rec.standing.includes('the VM "t-vm" runs'), rec.standing);
  assert.equal(rec.commands, [
    `nanopolicy enforce --down ${f.policy} --backend pf --state-dir ${f.stateDir} --home ${f.root}`,
    `nanopolicy enforce ${f.policy} --backend pf --state-dir ${f.stateDir} --home ${f.root}`,
  ]);
  assert.equal(f.calls().filter((c) => /-f -|-F all|^tart (run|stop)|^socat/.test(c)), []);
  for (const c of rec.commands as string[]) {
    const argv = c.split(' ').slice(2).filter((w, i, all) => !(w === '--state-dir' || all[i - 1] === '--state-dir' || w === '--home' || all[i - 1] === '--home'));
    assert.is((await f.enforce(argv)).code, 0, c);
  }
  assert.is(f.leftovers().socat.length, 2);
  await f.enforce([f.policy, ...PF, '--down']);
});

// enforce --no-start while "the owner" starts the VM once the anchor is loaded.
async function applyNoStart(): Promise<void> {
  const running = f.enforce([f.policy, ...PF, '--no-start']);
  assert.ok(await until(() => existsSync(join(f.fakeState, 'anchors')) && readdirSync(join(f.fakeState, 'anchors')).length > 0), 'the anchor was loaded');
  writeFileSync(join(f.fakeState, 'vm'), 'running');
  const r = await running;
  assert.is(r.code, 0, r.stderr);
}

t('--down with --no-start stops the owner\'s VM before the anchor goes', async () => {
  await applyNoStart();
  f.clearCalls();
  const down = await f.enforce([f.policy, ...PF, '--down']);
  assert.is(down.code, 0, down.stderr);
  const calls = f.calls().filter((c) => /^tart stop|-F all|-X /.test(c) && !c.startsWith('pfctl'));
  assert.equal(calls.map((c) => c.replace(/-X \d+/, '-X <t>')), ['tart stop t-vm', 'sudo -n /sbin/pfctl -X <t>', 'sudo -n /sbin/pfctl -a com.apple/100.nanopolicy.t-vm -F all']);
  assert.equal(f.leftovers(), { anchors: [], tokens: [], vm: 'stopped', socat: [], state: false });
});

t('a failed tart stop halts --down before the anchor is flushed: exit 4, the rules stay, the commands in order', async () => {
  await applyNoStart();
  const down = await f.enforce([f.policy, ...PF, '--down', '--json'], { NANOPOLICY_FAKE_FAIL: 'tart:stop' });
  assert.is(down.code, 4, down.stderr);
  const rec = JSON.parse(down.stdout);
  assert.is(rec.result, 'undo-failed');
  const [first] = rec.manual;
  assert.is(first.step, 'start-vm', '--down stops the VM whoever started it');
  assert.match(first.error, /"tart stop t-vm" failed .* still runs, so its rules stay loaded\. Nothing after it was undone \(.*enable-pf, load-anchor\)/);
  assert.is(first.commands[0], 'tart stop t-vm');
  assert.ok(first.commands.indexOf('sudo -n /sbin/pfctl -a com.apple/100.nanopolicy.t-vm -F all') > 0, first.commands.join('\n'));
  const left = f.leftovers();
  assert.equal([left.anchors.length, left.tokens.length, left.vm], [1, 1, 'running'], 'the anchor and pf stay while the VM runs');
  assert.equal(left.socat, [], 'the bridges were stopped before the VM');
  const again = await f.enforce([f.policy, ...PF, '--down']);
  assert.is(again.code, 0, again.stderr);
  assert.equal(f.leftovers(), { anchors: [], tokens: [], vm: 'stopped', socat: [], state: false });
});

t('a bridge name resolving to loopback, the VM subnet or this host is refused in preflight, naming bridge and address', async () => {
  const own = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  const cases: Array<[string, RegExp]> = [
    ['127.0.0.1', /The bridge "beta": its target "svc\.lab\.example" resolves to 127\.0\.0\.1, which is loopback/],
    ['192.168.64.1', /resolves to 192\.168\.64\.1, which is inside the VM subnet 192\.168\.64\.0\/24/],
    ['169.254.169.254', /resolves to 169\.254\.169\.254, which is link-local/],
    ['198.51.100.20\n::ffff:7f00:1', /resolves to ::ffff:7f00:1, which is loopback/],
    ...(own ? [[own, /one of this host's own addresses/] as [string, RegExp]] : []),
  ];
  for (const [answers, expected] of cases) {
    writeFileSync(join(f.root, 'hosts'), answers.split('\n').map((a) => `${a} svc.lab.example\n`).join(''));
    f.clearCalls();
    const r = await f.enforce([f.policy, ...PF]);
    assert.is(r.code, 3, answers);
    assert.match(r.stderr, expected);
    assert.equal(f.calls().filter((c) => /-f -|^tart run|^socat/.test(c)), []);
  }
});

t('--supervise re-resolves: a new allowed answer moves the bridge, a forbidden one takes it down', async () => {
  const notes: string[] = [];
  const opened = await openSession({ policyFile: f.policy, backend: 'pf', stateDir: f.stateDir, start: true, waitSeconds: 3, home: f.root, env: f.env, cwd: f.root, log: (m) => notes.push(m) });
  if (!('session' in opened)) throw new Error('policy');
  const s = opened.session;
  const lock = lockSession(s);
  if ('kind' in lock) throw new Error(lock.message);
  const abort = new AbortController();
  let running: ReturnType<typeof superviseLocked> | undefined;
  try {
    const applied = await applyLocked(s);
    if (applied.kind !== 'applied') throw new Error(applied.kind);
    assert.is(applied.state.bridges.find((b) => b.name === 'beta')?.target, '198.51.100.20');
    running = superviseLocked(s, applied.state, { intervalMs: 100, signal: abort.signal, maxBackoffMs: 200 });
    writeFileSync(join(f.root, 'hosts'), '198.51.100.21 svc.lab.example\n');
    assert.ok(await until(() => notes.some((n) => n.includes('now resolves to 198.51.100.21'))), notes.join('\n'));
    assert.ok(await until(() => readdirSync(join(f.fakeState, 'socat-pids')).some((p) => f.leftovers().socat.includes(Number(p)) && readFileSync(join(f.fakeState, 'socat-pids', p), 'utf8').includes('TCP4:198.51.100.21:443'))));
    writeFileSync(join(f.root, 'hosts'), '127.0.0.1 svc.lab.example\n');
    assert.ok(await until(() => notes.some((n) => /took the bridge "beta" down: .*resolves to 127\.0\.0\.1, which is loopback/.test(n))), notes.join('\n'));
    await sleep(300);
    assert.is(f.leftovers().socat.length, 1, 'only alpha runs');
    abort.abort();
    const result = await running;
    assert.equal(result.down.failures, []);
  } finally {
    abort.abort();
    await running?.catch(() => undefined);
    lock.release();
  }
  assert.equal(f.leftovers(), { anchors: [], tokens: [], vm: 'stopped', socat: [], state: false });
});

t('a VM interface whose netmask is not the policy\'s subnet fails find-interface and rolls back', async () => {
  const narrow = fakeMac((root) => `vm t-vm\nnetwork softnet subnet 192.168.64.0/25 gateway 192.168.64.1\n${POLICY(root).split('\n').slice(1).join('\n')}`);
  try {
    const r = await narrow.enforce([narrow.policy, ...PF]);
    assert.is(r.code, 3, r.stderr);
    assert.match(r.stderr, /step "find-interface" failed: The VM interface "bridge\d+" has a \/24 netmask, but the policy's subnet is 192\.168\.64\.0\/25/);
    assert.match(r.stderr, /nothing is left changed/);
    assert.equal(narrow.leftovers(), { anchors: [], tokens: [], vm: 'stopped', socat: [], state: false });
  } finally {
    narrow.cleanup();
  }
});

t('shares nested only through a symlink are refused in preflight', async () => {
  const nested = fakeMac((root) => {
    mkdirSync(join(root, 'work', 'inner'), { recursive: true });
    symlinkSync(join(root, 'work', 'inner'), join(root, 'looks-apart'));
    return `vm t-vm\nmount work ${root}/work rw\nmount apart ${root}/looks-apart ro\n`;
  });
  try {
    const r = await nested.enforce([nested.policy, ...PF]);
    assert.is(r.code, 3, r.stderr);
    assert.match(r.stderr, /The share "apart" resolves to ".*\/work\/inner", inside the share "work"/);
  } finally {
    nested.cleanup();
  }
});

t.run();
