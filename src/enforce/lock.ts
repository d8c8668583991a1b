// One enforce per VM at a time: a lock file created with O_EXCL holding the owner's pid. A lock whose
// pid is gone is stale (a crashed enforce) and is taken over; a live one refuses. A lock older than
// the last boot is stale whatever its pid: after a reboot that number may belong to anything, and
// a launchd supervisor at boot must not wait forever on it.

import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { writtenBeforeBoot } from '../host/boot-time.ts';

export interface Lock {
  path: string;
  release(): void;
}

export class LockedError extends Error {
  constructor(
    readonly path: string,
    readonly pid: number,
  ) {
    super(`another nanopolicy enforce (pid ${pid}) holds ${path}`);
  }
}

// Takes the lock in `dir`, or throws LockedError naming the live holder.
export function acquireLock(dir: string, pid: number = process.pid): Lock {
  const path = join(dir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${pid}\n`);
      closeSync(fd);
      return { path, release: () => releaseIfOurs(path, pid) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readHolder(path);
      if (holder !== undefined && holder !== pid && pidAlive(holder) && !writtenBeforeBoot(path)) throw new LockedError(path, holder);
      // Stale (holder gone) or unreadable (a crash between create and write): take it over.
      rmSync(path, { force: true });
    }
  }
  throw new LockedError(path, readHolder(path) ?? -1);
}

function releaseIfOurs(path: string, pid: number): void {
  if (readHolder(path) === pid) rmSync(path, { force: true });
}

function readHolder(path: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
