// pf is enabled: an anchor in a disabled pf filters nothing. Before enforce runs, disabled is fine
// (enforce enables pf with a reference token of its own); while the cage is in force, it is a hole.

import type { CommandRunner } from '../host/command-runner.ts';
import type { Cmd } from '../host/command.ts';
import type { DoctorRow } from './doctor-row.ts';

export async function pfEnabledRow(info: Cmd, runner: CommandRunner, inForce: boolean): Promise<DoctorRow> {
  const what = 'pf is enabled';
  const r = await runner.run(info);
  if (r.exitCode !== 0) return { id: 'pf-enabled', what, status: 'unknown', detail: `"sudo -n pfctl -s info" failed: ${(r.stderr.trim() || `exit ${r.exitCode}`).split('\n')[0]}`, fix: 'Install the sudoers lines compile writes (see the sudoers row).' };
  const status = /^Status:\s*(Enabled|Disabled)/m.exec(r.stdout)?.[1];
  if (status === 'Enabled') return { id: 'pf-enabled', what, status: 'ok', detail: 'enabled' };
  if (status === 'Disabled') {
    return inForce
      ? { id: 'pf-enabled', what, status: 'fail', detail: 'disabled while the cage is in force: the anchor filters nothing', fix: 'nanopolicy enforce --down, then nanopolicy enforce (it enables pf with its own token); find who ran "pfctl -d".' }
      : { id: 'pf-enabled', what, status: 'ok', detail: 'disabled now; enforce enables it with a reference token of its own' };
  }
  return { id: 'pf-enabled', what, status: 'unknown', detail: '"pfctl -s info" printed no Status line', fix: 'Run "sudo pfctl -s info" and look.' };
}
