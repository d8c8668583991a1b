// Whether a process is gone for good: not there, or a zombie waiting for a parent that is not us
// (a bridge an earlier enforce started is reparented; until its new parent reaps it, signal 0 still
// finds it, and waiting on it would wait for nothing).

import { readFileSync } from 'node:fs';
import type { CommandRunner } from '../host/command-runner.ts';

export function processGone(runner: CommandRunner, pid: number): boolean {
  if (!runner.alive(pid)) return true;
  try {
    // /proc/<pid>/stat: "pid (comm) S …"; comm may hold spaces and parentheses, so the state is
    // the first field after the last ")". No /proc (macOS): signal 0 is all we know.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return false;
  }
}

// Waits until `done()` holds, polling with a short back-off (5 ms doubling to 100 ms), for at most
// `limitMs`; returns whether it came true.
export async function pollUntil(runner: CommandRunner, done: () => boolean | Promise<boolean>, limitMs: number): Promise<boolean> {
  const end = Date.now() + limitMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    if (await done()) return true;
    if (Date.now() >= end) return false;
    await runner.sleep(Math.min(delay, Math.max(1, end - Date.now())));
  }
}
