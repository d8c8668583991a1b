// `tart list --format json` (domain.md §9): an array of { Name, State, Running, … }.

import { cmd, type Cmd } from './command.ts';
import type { CommandRunner } from './command-runner.ts';

export interface TartVm {
  name: string;
  running: boolean;
}

export const TART_LIST: Cmd = cmd('tart', 'list', '--format', 'json');

// The local VMs, or a string saying why they could not be listed.
export async function listVms(runner: CommandRunner): Promise<TartVm[] | string> {
  const r = await runner.run(TART_LIST);
  // A missing tart is already one sentence with its install command (command-runner.ts).
  if (r.exitCode === 127 && r.stderr.includes('is not installed')) return r.stderr.trim().replace(/\.$/, '');
  if (r.exitCode !== 0) return `"tart list" failed: ${r.stderr.trim().split('\n')[0] || `exit ${r.exitCode}`}`;
  try {
    const list = JSON.parse(r.stdout) as Array<{ Name?: unknown; State?: unknown; Running?: unknown; Source?: unknown }>;
    if (!Array.isArray(list)) return '"tart list" did not print a list';
    return list
      .filter((v) => typeof v.Name === 'string' && (v.Source === undefined || v.Source === 'local'))
      .map((v) => ({ name: v.Name as string, running: v.Running === true || v.State === 'running' }));
  } catch {
    return '"tart list --format json" printed something other than JSON';
  }
}
