// `nanopolicy enforce`: placeholder until the enforce work lands.

import type { Command } from 'commander';
import type { Io } from './io.ts';
import type { SetExit } from './commands.ts';

export function registerEnforceCommand(program: Command, io: Io, setExit: SetExit): void {
  void program;
  void io;
  void setExit;
}
