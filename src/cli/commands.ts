// Every subcommand, in the order `--help` lists them.

import type { Command } from 'commander';
import type { Io } from './io.ts';
import { registerCheckCommand, registerCompileCommand } from './compile-command.ts';
import { registerEnforceCommand } from './enforce-command.ts';
import { registerVerifyCommand } from './verify-command.ts';
import { registerLogCommand } from './log-command.ts';
import { registerInitCommand } from './init-command.ts';
import { registerExplainCommand } from './explain-command.ts';
import { registerSnapshotsCommand } from './snapshots-command.ts';
import { registerRollbackCommand } from './rollback-command.ts';
import { registerStatusCommand } from './status-command.ts';
import type { SetExit } from './set-exit.ts';
import { registerCompletionCommand } from './completion-command.ts';
import { registerGuestCommand } from './guest-command.ts';
import { registerDoctorCommand } from './doctor-command.ts';

export function registerCommands(program: Command, io: Io, setExit: SetExit): void {
  registerInitCommand(program, io, setExit);
  registerCheckCommand(program, io, setExit);
  registerCompileCommand(program, io, setExit);
  registerEnforceCommand(program, io, setExit);
  registerVerifyCommand(program, io, setExit);
  registerLogCommand(program, io, setExit);
  registerExplainCommand(program, io, setExit);
  registerStatusCommand(program, io, setExit);
  registerSnapshotsCommand(program, io, setExit);
  registerRollbackCommand(program, io, setExit);
  registerGuestCommand(program, io, setExit);
  registerDoctorCommand(program, io, setExit);
  registerCompletionCommand(program, io, setExit);
}
