// --supervise on the fake Mac: a dead bridge is restarted, a flushed anchor or disabled pf is put
// back, and the VM exiting (or the signal) tears everything down.

import { rmSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { applyLocked, lockSession } from '../../src/enforce/apply.ts';
import { openSession, type Session } from '../../src/enforce/session.ts';
import { superviseLocked } from '../../src/enforce/supervise.ts';
import { fakeMac, type FakeMac } from './harness.ts';

const t = suite('enforce --supervise (fake Mac)');
let f: FakeMac;
t.before.each(() => {
  f = fakeMac();
});
t.after.each(() => f.cleanup());

async function session(): Promise<{ session: Session; notes: string[] }> {
  const notes: string[] = [];
  const opened = await openSession({
    policyFile: f.policy, backend: 'pf', stateDir: f.stateDir, start: true, waitSeconds: 3, home: f.root,
    env: f.env, cwd: f.root, log: (m) => notes.push(m),
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

t.run();
