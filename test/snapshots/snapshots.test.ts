// Snapshots, rollback and status on the fake Mac (test/fixtures/bin): enforce clones the stopped
// VM and prunes only its own old clones; a failed clone (or any later failure) leaves nothing;
// rollback stops the VM before the rules go, sets it aside, clones the snapshot in, and undoes
// itself on a failure at each step.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { readRecords } from '../../src/snapshots/snapshot-records.ts';
import { recordVerify } from '../../src/snapshots/record-verify.ts';
import { updateRecords } from '../../src/snapshots/snapshot-records.ts';
import { emptyState, writeState } from '../../src/formats/enforce-state.ts';
import { fakeMac, gone, POLICY, PORT, type FakeMac } from '../enforce/harness.ts';

const OLD = ['t-vm-np-20200101T000000Z', 't-vm-np-20210101T000000Z'];
const OTHERS = ['other-vm', 'other-np-20200101T000000Z', 't-vm-np-replaced-20190101T000000Z', 't-vm-np-notatime', 't-vm-2'];
const SNAP = /^t-vm-np-\d{8}T\d{6}Z$/;

function mac(keep = 2): FakeMac {
  return fakeMac((root) => `${POLICY(root)}snapshot keep ${keep}\n`);
}

async function cli(m: FakeMac, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: { ...m.env, ...extraEnv } };
  const [command, ...rest] = args;
  const code = await main(['node', 'nanopolicy', command!, m.policy, ...rest, '--state-dir', m.stateDir, '--home', m.root, '--backend', 'pf'], io);
  return { code, stdout, stderr };
}

function vms(m: FakeMac): string[] {
  const f = join(m.fakeState, 'vms');
  return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
}

const withVms = (list: string[]) => ({ NANOPOLICY_FAKE_VMS: ['t-vm', ...list].join(',') });
const test = suite('snapshots');

test('--dry-run shows the clone before the VM starts, and the pruning last', async () => {
  const m = mac();
  try {
    const r = await m.enforce([m.policy, '--backend', 'pf', '--dry-run']);
    assert.is(r.code, 0, r.stderr);
    const ids = [...r.stdout.matchAll(/^\s+\d+\. ([\w:-]+):/gm)].map((x) => x[1]);
    assert.ok(ids.indexOf('snapshot-vm') >= 0 && ids.indexOf('snapshot-vm') === ids.indexOf('start-vm') - 1, ids.join(' '));
    assert.is(ids[ids.length - 1], 'prune-snapshots');
    assert.match(r.stdout, "run:  tart clone t-vm 't-vm-np-<snapshot>'");
    assert.match(r.stdout, "undo: tart delete 't-vm-np-<snapshot>'");
  } finally {
    m.cleanup();
  }
});

test('enforce clones the stopped VM, keeps the newest N of its own, never touches other VMs', async () => {
  const m = mac(2);
  try {
    const r = await m.enforce([m.policy, '--backend', 'pf'], withVms([...OLD, ...OTHERS]));
    assert.is(r.code, 0, r.stderr);
    const calls = m.calls().filter((c) => c.startsWith('tart '));
    const clone = calls.findIndex((c) => /^tart clone t-vm t-vm-np-\d{8}T\d{6}Z$/.test(c));
    assert.ok(clone >= 0 && clone < calls.findIndex((c) => c.startsWith('tart run')), 'clone before run');
    const now = vms(m);
    const own = now.filter((n) => SNAP.test(n)).sort();
    assert.equal(own.length, 2);
    assert.is(own[0], OLD[1], 'the oldest is pruned');
    for (const other of OTHERS) assert.ok(now.includes(other), `${other} untouched`);
    assert.equal(m.calls().filter((c) => c.startsWith('tart delete')), [`tart delete ${OLD[0]}`]);
    const rec = readRecords(m.stateDir);
    assert.equal(rec.snapshots.map((s) => s.name), [own[1]]);
    // --down keeps the snapshot: it is the rollback point.
    const down = await m.enforce([m.policy, '--backend', 'pf', '--down']);
    assert.is(down.code, 0, down.stderr);
    assert.ok(vms(m).includes(own[1]!));
  } finally {
    m.cleanup();
  }
});

test('a failed clone fails the enforce with everything undone', async () => {
  const m = mac();
  try {
    const r = await m.enforce([m.policy, '--backend', 'pf'], { NANOPOLICY_FAKE_FAIL: 'tart:clone' });
    assert.is(r.code, 3, r.stderr);
    assert.match(r.stderr, 'step "snapshot-vm" failed');
    assert.equal(m.leftovers(), { anchors: [], tokens: [], vm: 'never', socat: [], state: false });
    assert.not.ok(m.calls().some((c) => c.startsWith('tart run')));
  } finally {
    m.cleanup();
  }
});

test('a failure after the clone deletes the clone (and only it)', async () => {
  const m = mac();
  try {
    const r = await m.enforce([m.policy, '--backend', 'pf'], { ...withVms(OLD), NANOPOLICY_FAKE_FAIL: 'tart:ip' });
    assert.is(r.code, 3, r.stderr);
    assert.equal(vms(m).sort(), ['t-vm', ...OLD].sort());
    assert.equal(readRecords(m.stateDir).snapshots, []);
    assert.is(m.leftovers().anchors.length, 0);
  } finally {
    m.cleanup();
  }
});

test('snapshots lists newest first with the verify result of the run that followed', async () => {
  const m = staged();
  try {
    updateRecords(m.stateDir, (r) => r.snapshots.push({ name: FRESH, vm: 't-vm', takenAt: '2026-11-27T12:00:00.000Z', policySha256: 'x' }));
    writeState(m.stateDir, { ...emptyState('pf', 't-vm', 't.policy', 'x', 'a'), snapshot: FRESH });
    recordVerify(m.stateDir, { ok: true, wrong: 0, at: '2026-11-27T17:00:00.000Z' });
    const r = await cli(m, ['snapshots']);
    assert.is(r.code, 0, r.stderr);
    const rows = r.stdout.trim().split('\n').slice(1);
    assert.is(rows.length, 3);
    assert.match(rows[0]!, /^t-vm-np-20261127T120000Z\s+2026-11-27T12:00:00Z\s+ok at 2026-11-27T17:00:00Z$/);
    assert.match(rows[1]!, /^t-vm-np-20210101T000000Z\s+2021-01-01T00:00:00Z\s+-$/);
    const json = JSON.parse((await cli(m, ['snapshots', '--json'])).stdout);
    assert.is(json.keep, 3);
    assert.is(json.snapshots[0].verify.ok, true);
  } finally {
    m.cleanup();
  }
});

test('status: in force with bridges, address and verify; after --down, not in force (exit 2)', async () => {
  const m = mac();
  try {
    assert.is((await m.enforce([m.policy, '--backend', 'pf'])).code, 0);
    recordVerify(m.stateDir, { ok: false, wrong: 3, at: '2026-11-27T17:00:00.000Z' });
    const r = await cli(m, ['status']);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, 't-vm: in force');
    assert.match(r.stdout, 'rules      com.apple/100.nanopolicy.t-vm: loaded as compiled, interface bridge101'); // the fake vmnet bridge (bridge100 is another hypervisor's)
    assert.match(r.stdout, 'vm         192.168.64.5');
    assert.match(r.stdout, new RegExp(`bridges\\s+alpha\\s+:${PORT.alpha}\\s+pid \\d+ running`));
    assert.match(r.stdout, 'verify     FAILED (3 wrong)');
    assert.match(r.stdout, /snapshots\s+t-vm-np-\d{8}T\d{6}Z/);
    const json = JSON.parse((await cli(m, ['status', '--json'])).stdout);
    assert.is(json.bridges.length, 2);
    assert.ok(json.bridges.every((b: { alive: boolean }) => b.alive));
    // A bridge killed behind enforce's back is a problem status names.
    process.kill(json.bridges[0].pid, 'SIGKILL');
    await gone([json.bridges[0].pid]);
    const dead = await cli(m, ['status']);
    assert.is(dead.code, 2);
    assert.match(dead.stdout, 'problem:   the bridge "alpha"');
    await m.enforce([m.policy, '--backend', 'pf', '--down']);
    const after = await cli(m, ['status']);
    assert.is(after.code, 2);
    assert.match(after.stdout, 'NOT in force');
  } finally {
    m.cleanup();
  }
});

const rb = suite('rollback');

const FRESH = 't-vm-np-20261127T120000Z';

// A fake Mac whose VM runs (started outside enforce: nothing recorded) and has snapshots: cheaper
// than a whole enforce on a loaded machine, and rollback must cope with exactly this too.
function staged(): FakeMac {
  const m = mac(3);
  writeFileSync(join(m.fakeState, 'vms'), ['t-vm', ...OLD, FRESH, 'other-vm'].map((n) => `${n}\n`).join(''));
  writeFileSync(join(m.fakeState, 'vm'), 'running');
  writeFileSync(join(m.fakeState, 'vm.name'), 't-vm');
  return m;
}

// An enforced fake Mac with one fresh snapshot besides OLD; the VM runs.
async function enforced(): Promise<FakeMac> {
  const m = mac(3);
  const r = await m.enforce([m.policy, '--backend', 'pf'], withVms([...OLD, 'other-vm']));
  assert.is(r.code, 0, r.stderr);
  m.clearCalls();
  return m;
}

rb('refuses while the VM runs unless --stop; changes nothing', async () => {
  const m = staged();
  try {
    const before = vms(m);
    const r = await cli(m, ['rollback']);
    assert.is(r.code, 3);
    assert.match(r.stderr, 'The VM "t-vm" is running.');
    assert.match(r.stderr, 'fix: Add --stop');
    assert.equal(vms(m), before);
    assert.equal(m.calls().filter((c) => !c.startsWith('tart list')), []);
  } finally {
    m.cleanup();
  }
});

rb('--stop: the VM stops before the anchor goes, is set aside, and the newest snapshot takes its place', async () => {
  const m = await enforced();
  try {
    const newest = vms(m).filter((n) => SNAP.test(n)).sort().pop()!;
    const r = await cli(m, ['rollback', '--stop']);
    assert.is(r.code, 0, r.stderr);
    const calls = m.calls();
    const stop = calls.indexOf('tart stop t-vm');
    const flush = calls.findIndex((c) => / -F all/.test(c));
    const rename = calls.findIndex((c) => /^tart rename t-vm t-vm-np-replaced-\d{8}T\d{6}Z$/.test(c));
    const clone = calls.indexOf(`tart clone ${newest} t-vm`);
    assert.ok(stop >= 0 && flush > stop && rename > flush && clone > rename, calls.join('\n'));
    const now = vms(m);
    assert.ok(now.includes('t-vm') && now.includes(newest) && now.includes('other-vm'));
    assert.ok(now.some((n) => /^t-vm-np-replaced-/.test(n)));
    assert.equal(m.leftovers(), { anchors: [], tokens: [], vm: 'stopped', socat: [], state: false });
    assert.match(r.stdout, `"t-vm" is now the snapshot "${newest}", stopped.`);
  } finally {
    m.cleanup();
  }
});

rb('--to: only the VM\'s own snapshots; --dry-run changes nothing', async () => {
  const m = staged();
  try {
    const other = await cli(m, ['rollback', '--stop', '--to', 'other-vm']);
    assert.is(other.code, 3);
    assert.match(other.stderr, '"other-vm" is not a snapshot of "t-vm"');
    const dry = await cli(m, ['rollback', '--to', OLD[0]!, '--dry-run']);
    assert.is(dry.code, 0);
    assert.match(dry.stdout, `run:  tart clone ${OLD[0]} t-vm`);
    assert.match(dry.stdout, /undo: tart rename t-vm-np-replaced-\d{8}T\d{6}Z t-vm/);
    assert.equal(m.calls().filter((c) => !c.startsWith('tart list')), []);
    const to = await cli(m, ['rollback', '--stop', '--to', OLD[0]!]);
    assert.is(to.code, 0, to.stderr);
    assert.ok(m.calls().includes(`tart clone ${OLD[0]} t-vm`));
  } finally {
    m.cleanup();
  }
});

// A failure injected at each step that changes something, and what must hold after it.
const FAILURES: Array<{ step: string; fail: string; code: number; vmsAfter: (before: string[]) => boolean }> = [
  { step: 'stop-vm', fail: 'tart:stop', code: 3, vmsAfter: (b) => b.includes('t-vm') },
  { step: 'cage-down', fail: 'pfctl:-F', code: 3, vmsAfter: (b) => b.includes('t-vm') },
  { step: 'set-aside', fail: 'tart:rename', code: 3, vmsAfter: (b) => b.includes('t-vm') },
  { step: 'restore-snapshot', fail: 'tart:clone', code: 3, vmsAfter: (b) => b.includes('t-vm') },
];

for (const f of FAILURES) {
  rb(`a failure at ${f.step} is undone: the original VM keeps its name, no clone is left`, async () => {
    const m = staged();
    try {
      const before = vms(m);
      const r = await cli(m, ['rollback', '--stop'], { NANOPOLICY_FAKE_FAIL: f.fail });
      assert.is(r.code, f.code, r.stderr);
      assert.match(r.stderr, `step "${f.step}" failed`);
      const after = vms(m);
      assert.ok(f.vmsAfter(after));
      assert.equal(after.sort(), before.sort(), 'the same VMs as before');
    } finally {
      m.cleanup();
    }
  });
}

rb('a failed undo prints the manual commands (exit 4)', async () => {
  const m = staged();
  try {
    // The clone fails, and so does the rename back.
    const r = await cli(m, ['rollback', '--stop'], { NANOPOLICY_FAKE_FAIL: 'tart:clone,tart:rename@2' });
    assert.is(r.code, 4, r.stderr);
    assert.match(r.stderr, /could not undo everything[\s\S]*tart rename t-vm-np-replaced-\d{8}T\d{6}Z t-vm/);
  } finally {
    m.cleanup();
  }
});

rb('no snapshot: a clear error, nothing changed', async () => {
  const m = fakeMac();
  try {
    const r = await cli(m, ['rollback']);
    assert.is(r.code, 3);
    assert.match(r.stderr, '"t-vm" has no snapshot.');
    assert.match(r.stderr, 'snapshot keep N');
  } finally {
    m.cleanup();
  }
});

test('status: a recorded proxy whose pid is now another program is NOT RUNNING, shown by its port', async () => {
  const m = mac();
  try {
    assert.is((await m.enforce([m.policy, '--backend', 'pf'])).code, 0);
    const { readState } = await import('../../src/formats/enforce-state.ts');
    const state = readState(m.stateDir)!;
    // This test process stands in for a program that got the proxy's old pid.
    writeState(m.stateDir, { ...state, proxy: { pid: process.pid, listen: { host: '192.168.64.1', port: 13128 }, allowClients: ['192.168.64.5/32'], config: join(m.stateDir, 'proxy.json'), auditLog: join(m.stateDir, 'audit.log'), argv: [] } });
    const r = await cli(m, ['status']);
    assert.is(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`proxy\\s+:13128\\s+pid ${process.pid} NOT RUNNING`));
    assert.match(r.stdout, `the proxy (pid ${process.pid}) is not running`);
    await m.enforce([m.policy, '--backend', 'pf', '--down']);
  } finally {
    m.cleanup();
  }
});

test('a corrupt snapshots.json is a clear error naming the file and the fix, never an internal error (exit 70)', async () => {
  const m = staged();
  try {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(m.stateDir, { recursive: true });
    const file = join(m.stateDir, 'snapshots.json');
    writeFileSync(file, '{"format": 1, "snapshots": [ {"name": "t-vm-np-2026');
    const r = await cli(m, ['snapshots']);
    assert.is(r.code, 1, r.stderr);
    assert.not.match(r.stderr, /internal error/);
    assert.match(r.stderr, `The snapshot records "${file}" cannot be read: it is not JSON`);
    assert.match(r.stderr, `Move it aside (mv ${file} ${file}.corrupt)`);
    const status = await cli(m, ['status']);
    assert.is.not(status.code, 70, status.stderr);
    assert.match(status.stdout + status.stderr, 'cannot be read');
    // enforce refuses before it clones anything: no clone for records that cannot name it.
    writeFileSync(join(m.fakeState, 'vm'), 'stopped');
    const before = vms(m).length;
    const up = await m.enforce([m.policy, '--backend', 'pf']);
    assert.is(up.code, 3, up.stderr);
    assert.match(up.stderr, `The snapshot records "${file}" cannot be read`, up.stderr);
    assert.is(vms(m).length, before);
    assert.is(m.leftovers().anchors.length, 0);
    writeFileSync(file, '{"format": 1, "snapshots": [null]}');
    assert.match((await cli(m, ['snapshots'])).stderr, 'snapshot entry 1 has no "name" and "takenAt"');
  } finally {
    m.cleanup();
  }
});

test.run();
rb.run();
