// `nanopolicy verify`: placeholder until the verify work lands.

import type { Command } from 'commander';
import type { Io } from './io.ts';
import type { SetExit } from './commands.ts';

export function registerVerifyCommand(program: Command, io: Io, setExit: SetExit): void {
  void program;
  void io;
  void setExit;
}
