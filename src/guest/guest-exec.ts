// Runs guest commands: each behind the prefix that reaches into the VM — `tart exec -i <vm>` (over
// the guest agent's control socket, which works under a deny-all network; domain.md §2, §9), or
// the lab's `ip netns exec …` given with --exec. The one place guest commands are started.

import type { CommandRunner } from '../host/command-runner.ts';
import { formatCommand, type Cmd } from '../host/command.ts';
import type { GuestCommand } from './guest-commands.ts';

export interface GuestExec {
  prefix: readonly string[];
  runner: CommandRunner;
}

export interface GuestRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

// The default way in: `tart exec -i VM` (-i: the command's stdin is the file's new text).
export function tartExecPrefix(vm: string): string[] {
  return ['tart', 'exec', '-i', vm];
}

export function guestCmd(exec: Pick<GuestExec, 'prefix'>, c: GuestCommand): Cmd {
  const [file, ...args] = [...exec.prefix, ...c.argv];
  return { file: file!, args, ...(c.input !== undefined ? { input: c.input } : {}), ...(c.inputName !== undefined ? { inputName: c.inputName } : {}) };
}

// The command as a person would paste it (for --dry-run).
export function showGuestCommand(exec: Pick<GuestExec, 'prefix'>, c: GuestCommand): string {
  return formatCommand(guestCmd(exec, c));
}

export async function runGuest(exec: GuestExec, c: GuestCommand): Promise<GuestRun> {
  const r = await exec.runner.run(guestCmd(exec, c), { timeoutMs: 60_000 });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}
