// A process's command line from /proc/<pid>/cmdline (Linux), arguments joined by spaces; undefined
// where there is no /proc (macOS) or the process is gone. Reading it costs no `ps` fork, so the
// supervisor's fast liveness watch can check a recorded pid's identity, not just that it exists.

import { readFileSync } from 'node:fs';

export function procCommandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}
