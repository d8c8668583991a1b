// A lab is removed even when its process never calls teardown: uncaught error and SIGTERM go
// through the exit trap; SIGKILL leaves it to sweepStaleLabs in the next run.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { listNetns, mountsUnder } from './destroy-lab.ts';
import { requireLab, sweepStaleLabs } from './index.ts';

const available = requireLab('test/lab/exit-trap.test.ts');
const t = suite('lab: exit trap and sweep');

interface Crashed {
  id: string;
  dir: string;
  ns: Record<string, string>;
  pids: number[];
}

// Starts the crash fixture, resolves with its lab description and a promise of its exit.
function startCrashLab(mode: string): Promise<{ lab: Crashed; exited: Promise<number | null>; pid: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'crash-lab.ts'), mode], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve({ lab: JSON.parse(out.split('\n')[0]!) as Crashed, exited, pid: child.pid! });
    });
    void exited.then((code) => reject(new Error(`crash-lab exited ${code} before its lab was up: ${err}`)));
  });
}

// Asserts that nothing of the lab is left on the machine.
function assertGone(lab: Crashed): void {
  assert.equal(listNetns().filter((n) => n.startsWith(`${lab.id}-`)), []);
  for (const pid of lab.pids) assert.not.ok(existsSync(`/proc/${pid}`) && !isZombie(pid), `pid ${pid} still runs`);
  assert.equal(mountsUnder(lab.dir), []);
  for (const ns of Object.values(lab.ns)) assert.not.ok(existsSync(`/etc/netns/${ns}`), `/etc/netns/${ns} left`);
  assert.not.ok(existsSync(lab.dir), `${lab.dir} left`);
}

// True when the pid is a zombie (dead, not yet reaped) or already gone.
function isZombie(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

t('an uncaught error in the test process still removes its lab', async () => {
  const { lab, exited } = await startCrashLab('throw');
  assert.is.not(await exited, 0);
  assertGone(lab);
});

t('SIGTERM to the test process still removes its lab', async () => {
  const { lab, exited, pid } = await startCrashLab('sigterm');
  process.kill(pid, 'SIGTERM');
  assert.is(await exited, 143);
  assertGone(lab);
});

t('after SIGKILL the lab stays, and sweepStaleLabs removes it', async () => {
  const { lab, exited, pid } = await startCrashLab('hang');
  process.kill(pid, 'SIGKILL');
  await exited;
  assert.ok(listNetns().includes(lab.ns.vm!), 'SIGKILL cannot be trapped: the lab should still be there');
  assert.ok(sweepStaleLabs().includes(lab.id));
  assertGone(lab);
});

if (available) t.run();
