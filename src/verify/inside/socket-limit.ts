// How many sockets the probes may hold open at once: a share of the file-descriptor limit.

import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/** Enough to sweep a gateway that drops everything in ~20 s at the 1.2 s timeout; the window in tcp-scanner.ts keeps RST sweeps fast. */
export const DEFAULT_MAX_SOCKETS = 4096;

// Half the soft RLIMIT_NOFILE (the rest stays for Node, pipes and other probes), capped.
export function socketLimit(requested?: number): number {
  const fdLimit = readFdLimit();
  const allowed = Math.max(8, Math.floor(fdLimit / 2));
  return Math.max(1, Math.min(requested ?? DEFAULT_MAX_SOCKETS, allowed));
}

// The soft open-files limit of this process (Node raises it to the hard limit at start).
export function readFdLimit(): number {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    if (m) return m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
  } catch {
    // not Linux: ask a shell (macOS)
  }
  const r = spawnSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const n = Number.parseInt(r.stdout ?? '', 10);
  if (Number.isFinite(n) && n > 0) return n;
  return 256; // macOS's historical default: the safe guess
}
