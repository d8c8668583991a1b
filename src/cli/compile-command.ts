// `nanopolicy check` and `nanopolicy compile`.

import type { Command } from 'commander';
import type { Io } from './io.ts';
import type { SetExit } from './commands.ts';

export function registerCheckCommand(program: Command, io: Io, setExit: SetExit): void {
  void program; void io; void setExit;
}

export function registerCompileCommand(program: Command, io: Io, setExit: SetExit): void {
  void program; void io; void setExit;
}
