// Every subcommand, in the order `--help` lists them.

import type { Command } from 'commander';
import type { Io } from './io.ts';
import { registerCheckCommand, registerCompileCommand } from './compile-command.ts';
import { registerEnforceCommand } from './enforce-command.ts';
import { registerVerifyCommand } from './verify-command.ts';
import { registerLogCommand } from './log-command.ts';

export type SetExit = (code: number) => void;

export function registerCommands(program: Command, io: Io, setExit: SetExit): void {
  registerCheckCommand(program, io, setExit);
  registerCompileCommand(program, io, setExit);
  registerEnforceCommand(program, io, setExit);
  registerVerifyCommand(program, io, setExit);
  registerLogCommand(program, io, setExit);
}
