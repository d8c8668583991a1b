// Every subcommand, in the order `--help` lists them.

import type { Command } from 'commander';
import type { Io } from './io.ts';

export type SetExit = (code: number) => void;

export function registerCommands(program: Command, io: Io, setExit: SetExit): void {
  void program;
  void io;
  void setExit;
}
