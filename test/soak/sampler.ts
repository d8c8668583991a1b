// Samples the resident memory and open file descriptors of every process that keeps the cage up —
// the supervisor, the proxy, each bridge's socat — from /proc, by role: a role's pid changes when
// the chaos kills it and it is restarted, and the question is whether the role stays flat.

import { readdirSync, readFileSync } from 'node:fs';

export interface Sample {
  at: number;
  role: string;
  pid: number;
  rssKiB: number;
  fds: number;
}

// One process's RSS (KiB) and fd count now; undefined if it is gone or a zombie.
export function sampleProcess(pid: number): { rssKiB: number; fds: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    if (/^State:\s+[ZX]/m.test(status)) return undefined;
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
    if (!rss) return undefined;
    return { rssKiB: Number(rss[1]), fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined;
  }
}

// Samples each role's pid at `at`; roles whose process is gone are left out of this round.
export function sampleRoles(pids: Record<string, number | undefined>, at: number): Sample[] {
  const out: Sample[] = [];
  for (const [role, pid] of Object.entries(pids)) {
    if (pid === undefined) continue;
    const s = sampleProcess(pid);
    if (s) out.push({ at, role, pid, ...s });
  }
  return out;
}
