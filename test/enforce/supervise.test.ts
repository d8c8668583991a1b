// --supervise on the fake Mac: a dead bridge is restarted (within the liveness watch, not at the
// next interval), a part that keeps dying backs off, a recycled pid is never taken for our bridge,
// a flushed anchor or disabled pf is put back, a supervisor started over a state whose bridges died
// takes it over (and one it cannot repair fails closed), and the VM exiting (or the signal) tears
// everything down.

import { spawn } from 'node:child_process';
import { appendFileSync, rmSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { applyLocked, lockSession } from '../../src/enforce/apply.ts';
import { openSession, type Session } from '../../src/enforce/session.ts';
import { superviseLocked } from '../../src/enforce/supervise.ts';
import { downLocked } from '../../src/enforce/down.ts';
import { readState } from '../../src/formats/enforce-state.ts';
import { hostsFileLookup, type Lookup } from '../../src/enforce/resolve-target.ts';
import { fakeMac, PF, PORT, type FakeMac } from './harness.ts';

const t = suite('enforce --supervise (fake Mac)');
let f: FakeMac;
t.before.each(() => {
  f = fakeMac();
});
t.after.each(() => f.cleanup());

async function session(lookup?: Lookup): Promise<{ session: Session; notes: string[] }> {
  const notes: string[] = [];
  const opened = await openSession({
    policyFile: f.policy, backend: 'pf', stateDir: f.stateDir, start: true, waitSeconds: 3, home: f.root,
    env: f.env, cwd: f.root, log: (m) => notes.push(m), ...(lookup ? { lookup } : {}),
  });
  if (!('session' in opened)) throw new Error(JSON.stringify(opened.diagnostics));
  return { session: opened.session, notes };
}

const until = async (what: () => boolean, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!what() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return what();
};

t('restarts a dead bridge, restores the anchor and pf, and tears down when the VM exits', async () => {
  const { session: s, notes } = await session();
  const lock = lockSession(s);
  if ('kind' in lock) throw new Error(lock.message);
  const abort = new AbortController();
  let running: ReturnType<typeof superviseLocked> | undefined;
  try {
    const applied = await applyLocked(s);
    assert.is(applied.kind, 'applied', JSON.stringify(applied));
    if (applied.kind !== 'applied') return;
    running = superviseLocked(s, applied.state, { intervalMs: 100, signal: abort.signal, maxBackoffMs: 400 });
    const alphaPid = applied.state.bridges.find((b) => b.name === 'alpha')!.pid;
    process.kill(alphaPid, 'SIGKILL');
    assert.ok(await until(() => notes.some((n) => n.includes('restarted the bridge "alpha"'))), notes.join('\n'));
    // Someone flushes our anchor and drops every pf reference (vmnet reloading pf does the like).
    for (const a of readdirSync(join(f.fakeState, 'anchors'))) rmSync(join(f.fakeState, 'anchors', a));
    writeFileSync(join(f.fakeState, 'tokens'), '');
    // Should the supervisor end early, say how (not only that nothing was repaired).
    running.then((r) => notes.push(`supervisor ended: ${r.why} ${r.detail ?? ''}`), (e) => notes.push(`supervisor threw: ${(e as Error).stack}`));
    assert.ok(await until(() => notes.some((n) => n.includes('reloaded it')) && notes.some((n) => n.includes('enabled it again'))), notes.join('\n'));
    assert.is(f.leftovers().anchors.length, 1);
    // The VM shuts down.
    writeFileSync(join(f.fakeState, 'vm'), 'stopped');
    const result = await running;
    assert.is(result.why, 'vm-exited');
    assert.ok(result.restarts >= 1);
    assert.equal(result.down.failures, []);
    assert.equal(f.leftovers(), { anchors: [], tokens: [], vm: 'stopped', socat: [], state: false });
  } finally {
    // Never leave a supervisor writing into a folder the cleanup removes.
    abort.abort();
    await running?.catch(() => undefined);
    lock.release();
  }
});

t('the signal tears everything down', async () => {
  const { session: s } = await session();
  const lock = lockSession(s);
  if ('kind' in lock) throw new Error(lock.message);
  try {
    const applied = await applyLocked(s);
    if (applied.kind !== 'applied') throw new Error(applied.kind);
    const abort = new AbortController();
    const running = superviseLocked(s, applied.state, { intervalMs: 100, signal: abort.signal });
    setTimeout(() => abort.abort(), 200);
    const result = await running;
    assert.is(result.why, 'stopped');
    assert.equal(f.leftovers(), { anchors: [], tokens: [], vm: 'stopped', socat: [], state: false });
  } finally {
    lock.release();
  }
});

// Runs `body` with the lock held and a supervisor (long interval: only the watch can act) started
// by `start`; always stops the supervisor and releases the lock.
async function supervising(
  body: (s: Session, notes: string[], running: () => ReturnType<typeof superviseLocked>, abort: AbortController) => Promise<void>,
  before?: (s: Session) => Promise<import('../../src/formats/enforce-state.ts').EnforceState>,
): Promise<void> {
  const { session: s, notes } = await session();
  const lock = lockSession(s);
  if ('kind' in lock) throw new Error(lock.message);
  const abort = new AbortController();
  let running: ReturnType<typeof superviseLocked> | undefined;
  try {
    let state;
    if (before) state = await before(s);
    else {
      const applied = await applyLocked(s);
      if (applied.kind !== 'applied') throw new Error(applied.kind);
      state = applied.state;
    }
    running = superviseLocked(s, state, { intervalMs: 60_000, signal: abort.signal, maxBackoffMs: 60_000 });
    await body(s, notes, () => running!, abort);
  } finally {
    abort.abort();
    await running?.catch(() => undefined);
    lock.release();
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t('a killed bridge is back within a second, long before the next interval (60 s)', async () => {
  await supervising(async (_s, notes) => {
    // Let the supervisor's first full check pass.
    await new Promise((r) => setTimeout(r, 300));
    const before = readState(f.stateDir)!.bridges.find((b) => b.name === 'alpha')!.pid;
    const killed = Date.now();
    process.kill(before, 'SIGKILL');
    assert.ok(await until(() => notes.some((n) => n.includes('restarted the bridge "alpha"')), 5000), notes.join('\n'));
    const took = Date.now() - killed;
    assert.ok(took < 1500, `recovery took ${took} ms`);
    const after = readState(f.stateDir)!.bridges.find((b) => b.name === 'alpha')!.pid;
    assert.is.not(after, before);
    assert.ok(alive(after));
  });
});

t('a bridge that keeps dying is restarted with a growing backoff, not at every watch', async () => {
  await supervising(async (_s, notes) => {
    await new Promise((r) => setTimeout(r, 300));
    // From now on its socat fails at once, as on a taken port.
    f.env.NANOPOLICY_FAKE_FAIL = `socat:LISTEN:${PORT.alpha}`;
    process.kill(readState(f.stateDir)!.bridges.find((b) => b.name === 'alpha')!.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 2600));
    const tries = notes.filter((n) => n.includes('The bridge "alpha" exited right after starting')).length;
    // Tries at about 0, 0.25, 0.75, 1.75 s (then 3.75 s); a 250 ms watch without backoff makes ~10.
    assert.ok(tries >= 2 && tries <= 5, `${tries} tries:\n${notes.join('\n')}`);
    assert.ok(notes.some((n) => /next try in \d\.\d s/.test(n)), notes.join('\n'));
    // It comes back once it can.
    delete f.env.NANOPOLICY_FAKE_FAIL;
    assert.ok(await until(() => notes.some((n) => n.includes('restarted the bridge "alpha"')), 8000), notes.join('\n'));
  });
});

t('a recycled pid (another program at the recorded pid) is not taken for the bridge, and is never signalled', async () => {
  // The supervisor and alpha's socat died; alpha's number now belongs to another program (its
  // command line is not socat listening on alpha's port). The next supervisor must not count it
  // as the bridge — nor stop it.
  const other = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    await supervising(async (_s, notes) => {
      assert.ok(await until(() => notes.some((n) => n.includes('restarted the bridge "alpha"')), 3000), notes.join('\n'));
      const now = readState(f.stateDir)!.bridges.find((b) => b.name === 'alpha')!.pid;
      assert.is.not(now, other.pid);
      assert.ok(alive(now));
      assert.ok(alive(other.pid!), 'the other program was left alone');
    }, async (s) => {
      const applied = await applyLocked(s);
      if (applied.kind !== 'applied') throw new Error(applied.kind);
      const alpha = applied.state.bridges.find((b) => b.name === 'alpha')!;
      process.kill(alpha.pid, 'SIGKILL');
      alpha.pid = other.pid!;
      writeFileSync(join(f.stateDir, 'state.json'), JSON.stringify(applied.state));
      assert.is((await applyLocked(s)).kind, 'stale', 'a plain enforce does not take the other program for the bridge');
      const adopted = await applyLocked(s, { supervise: true });
      if (adopted.kind !== 'adopted') throw new Error(JSON.stringify(adopted));
      assert.equal(adopted.repairs, [`the bridge "alpha" (pid ${other.pid} is not it)`]);
      return adopted.state;
    });
    assert.ok(alive(other.pid!), 'teardown left the other program alone too');
  } finally {
    other.kill('SIGKILL');
  }
});

t('the liveness watch sees a recycled pid between full checks (Linux: /proc/<pid>/cmdline)', async () => {
  const other = spawn('sleep', ['30'], { stdio: 'ignore' });
  let state: import('../../src/formats/enforce-state.ts').EnforceState | undefined;
  try {
    await supervising(async (_s, notes) => {
      await new Promise((r) => setTimeout(r, 300));
      // In one tick, so the watch cannot look in between: the bridge dies, its number is reused.
      const alpha = state!.bridges.find((b) => b.name === 'alpha')!;
      const old = alpha.pid;
      alpha.pid = other.pid!;
      process.kill(old, 'SIGKILL');
      const since = Date.now();
      assert.ok(await until(() => notes.some((n) => n.includes('restarted the bridge "alpha"')), 5000), notes.join('\n'));
      assert.ok(Date.now() - since < 1500, `${Date.now() - since} ms`);
      assert.ok(alive(other.pid!), 'the other program was left alone');
    }, async (s) => {
      const applied = await applyLocked(s);
      if (applied.kind !== 'applied') throw new Error(applied.kind);
      return (state = applied.state);
    });
  } finally {
    other.kill('SIGKILL');
  }
});

t('a supervisor started over a state whose bridges died takes it over and restarts them at once', async () => {
  const { session: s, notes } = await session();
  const lock = lockSession(s);
  if ('kind' in lock) throw new Error(lock.message);
  const abort = new AbortController();
  let running: ReturnType<typeof superviseLocked> | undefined;
  try {
    const applied = await applyLocked(s);
    if (applied.kind !== 'applied') throw new Error(applied.kind);
    // The supervisor was killed and its bridges with it (launchd restarts it next).
    for (const b of applied.state.bridges) process.kill(b.pid, 'SIGKILL');
    assert.ok(await until(() => applied.state.bridges.every((b) => !alive(b.pid)), 3000));
    // A plain enforce still refuses (the owner decides) ...
    const plain = await applyLocked(s);
    assert.is(plain.kind, 'stale');
    // ... but the supervisor takes it over: same policy, rules in force, only its parts dead.
    const adopted = await applyLocked(s, { supervise: true });
    assert.is(adopted.kind, 'adopted', JSON.stringify(adopted));
    if (adopted.kind !== 'adopted') return;
    assert.equal(adopted.repairs.map((r) => r.replace(/ \(.*/, '')), ['the bridge "alpha"', 'the bridge "beta"']);
    const started = Date.now();
    running = superviseLocked(s, adopted.state, { intervalMs: 60_000, signal: abort.signal });
    assert.ok(await until(() => notes.some((n) => n.includes('restarted the bridge "alpha"')) && notes.some((n) => n.includes('restarted the bridge "beta"')), 5000), notes.join('\n'));
    assert.ok(Date.now() - started < 1500, `${Date.now() - started} ms`);
    assert.is(f.leftovers().socat.length, 2);
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

t('a supervisor started over a state it cannot repair (the policy changed) fails closed: everything down', async () => {
  const { session: s } = await session();
  const lock = lockSession(s);
  if ('kind' in lock) throw new Error(lock.message);
  try {
    const applied = await applyLocked(s);
    if (applied.kind !== 'applied') throw new Error(applied.kind);
    process.kill(applied.state.bridges[0]!.pid, 'SIGKILL');
  } finally {
    lock.release();
  }
  appendFileSync(f.policy, `allow gamma 198.51.100.30:80 via ${PORT.alpha + 7}\n`);
  const { session: changed } = await session();
  const again = lockSession(changed);
  if ('kind' in again) throw new Error(again.message);
  try {
    const r = await applyLocked(changed, { supervise: true });
    assert.is(r.kind, 'failed-closed', JSON.stringify(r));
    if (r.kind !== 'failed-closed') return;
    assert.match(r.reason, /the policy changed/);
    assert.equal(r.down.failures, []);
  } finally {
    again.release();
  }
  assert.equal(f.leftovers(), { anchors: [], tokens: [], vm: 'stopped', socat: [], state: false });
});

t('pf disabled and the anchor flushed while a check looks (vmnet reloading pf) is repaired, not taken for rules lost', async () => {
  const { session: s, notes } = await session();
  const lock = lockSession(s);
  if ('kind' in lock) throw new Error(lock.message);
  try {
    const applied = await applyLocked(s);
    if (applied.kind !== 'applied') throw new Error(applied.kind);
    const ctx = s.context(applied.state);
    let infos = 0;
    // The first `pfctl -s info` still sees pf enabled; right after it, pf loses the anchor and every
    // reference at once — the check sees half of it before its reload, the rest after.
    const runner = {
      ...ctx.runner,
      async run(c: Parameters<typeof ctx.runner.run>[0], o?: Parameters<typeof ctx.runner.run>[1]) {
        const r = await ctx.runner.run(c, o);
        if ([c.file, ...c.args].join(' ').includes('-s info') && ++infos === 1) {
          for (const a of readdirSync(join(f.fakeState, 'anchors'))) rmSync(join(f.fakeState, 'anchors', a));
          writeFileSync(join(f.fakeState, 'tokens'), '');
        }
        return r;
      },
    };
    const repaired = await s.plan.repairRules({ ...ctx, runner });
    assert.equal(repaired, ['the anchor was gone or changed; reloaded it', 'pf was disabled; enabled it again'], notes.join('\n'));
    assert.is(f.leftovers().anchors.length, 1);
    assert.is(f.leftovers().tokens.length, 1);
    await downLocked(s, ctx.state);
  } finally {
    lock.release();
  }
  assert.equal(f.leftovers(), { anchors: [], tokens: [], vm: 'stopped', socat: [], state: false });
});

t('a resolver that stops answering neither stalls the supervisor nor takes a bridge down; a dead bridge restarts on its checked address', async () => {
  let stalled = false;
  const hosts = hostsFileLookup(join(f.root, 'hosts'));
  const { session: s, notes } = await session((name) => (stalled ? new Promise<string[]>(() => undefined) : hosts(name)));
  const lock = lockSession(s);
  if ('kind' in lock) throw new Error(lock.message);
  const abort = new AbortController();
  let running: ReturnType<typeof superviseLocked> | undefined;
  try {
    const applied = await applyLocked(s);
    if (applied.kind !== 'applied') throw new Error(applied.kind);
    const beta = applied.state.bridges.find((b) => b.name === 'beta')!;
    const [betaPid, target] = [beta.pid, beta.target];
    running = superviseLocked(s, applied.state, { intervalMs: 1000, signal: abort.signal });
    await new Promise((r) => setTimeout(r, 300));
    stalled = true;
    assert.ok(await until(() => notes.some((n) => n.includes(`did not resolve within 2 s: kept the bridge on ${target}`)), 8000), notes.join('\n'));
    assert.ok(alive(betaPid), 'beta still runs');
    assert.is(readState(f.stateDir)!.bridges.find((b) => b.name === 'beta')!.pid, betaPid);
    // Dead while the resolver says nothing: restarted on the address it was checked for.
    process.kill(betaPid, 'SIGKILL');
    assert.ok(await until(() => notes.some((n) => n.includes(`restarting it on ${target}`)) && notes.some((n) => n.includes('restarted the bridge "beta"')), 8000), notes.join('\n'));
    assert.is(readState(f.stateDir)!.bridges.find((b) => b.name === 'beta')!.target, target);
    assert.not.ok(notes.some((n) => n.includes('took the bridge "beta" down')), notes.join('\n'));
  } finally {
    abort.abort();
    await running?.catch(() => undefined);
    lock.release();
  }
  assert.equal(f.leftovers(), { anchors: [], tokens: [], vm: 'stopped', socat: [], state: false });
});

t('enforce --supervise over a state it cannot repair exits 3 and says it took everything down (CLI)', async () => {
  assert.is((await f.enforce([f.policy, ...PF])).code, 0);
  for (const pid of f.leftovers().socat) process.kill(pid, 'SIGKILL');
  appendFileSync(f.policy, `allow gamma 198.51.100.30:80 via ${PORT.alpha + 7}\n`);
  const r = await f.enforce([f.policy, ...PF, '--supervise', '--json']);
  assert.is(r.code, 3, r.stderr);
  const rec = JSON.parse(r.stdout);
  assert.is(rec.result, 'failed-closed');
  assert.is(rec.ok, false);
  assert.match(rec.error, /the policy changed since it was applied/);
  assert.equal(f.leftovers(), { anchors: [], tokens: [], vm: 'stopped', socat: [], state: false });
});

t.run();
