// The VM's state as `tart list --format json` reports it (domain.md §9: objects with Name, State
// running|suspended|stopped, Running): what --down and a stopping supervisor ask before the rules
// go, and what enforce asks to tell a fresh start from a VM left running.

import { cmd, type Cmd } from '../host/command.ts';
import type { CommandRunner } from '../host/command-runner.ts';

export const tartList = (): Cmd => cmd('tart', 'list', '--format', 'json');

/** running, not running (stopped, suspended, or no such VM), or unknown (tart failed or printed nonsense). */
export type VmState = 'running' | 'not-running' | 'unknown';

// Asks tart whether the VM runs.
export async function tartVmState(runner: CommandRunner, vm: string): Promise<VmState> {
  const r = await runner.run(tartList());
  if (r.exitCode !== 0) return 'unknown';
  try {
    const vms = JSON.parse(r.stdout) as Array<{ Name?: string; State?: string; Running?: boolean }>;
    if (!Array.isArray(vms)) return 'unknown';
    const entry = vms.find((v) => v.Name === vm);
    return entry?.Running === true || entry?.State === 'running' ? 'running' : 'not-running';
  } catch {
    return 'unknown';
  }
}
