// One step of an enforce plan: what it does, how to undo it, and the commands a person would run for
// each (shown by --dry-run, and printed as manual commands when an undo fails).

import type { Cmd } from '../host/command.ts';
import type { CommandRunner, CmdResult } from '../host/command-runner.ts';
import type { EnforceState } from '../formats/enforce-state.ts';
import { formatCommand } from '../host/command.ts';
import type { Lookup } from './resolve-target.ts';

export interface StepContext {
  runner: CommandRunner;
  state: EnforceState;
  stateDir: string;
  /** Progress lines for the user (the CLI sends them to stderr). */
  log(message: string): void;
  /** Resolves a bridge target's name (the system resolver, or a hosts file in tests and labs). */
  lookup: Lookup;
}

export interface Step {
  id: string;
  /** One line, what the step achieves. */
  describe: string;
  /** The commands `run` executes; values not known yet appear as placeholders like `<vm_if>`. */
  commands(ctx: StepContext): Cmd[];
  /** The commands `undo` executes, with the values recorded in the state. */
  undoCommands(ctx: StepContext): Cmd[];
  run(ctx: StepContext): Promise<void>;
  /** Must be safe when `run` did nothing or only part of its work. */
  undo(ctx: StepContext): Promise<void>;
  /**
   * When this undo fails, the undos after it must not run: stopping the VM guards the rules, and
   * a VM that still runs must keep its anchor (or table).
   */
  haltUndoOnFailure?: boolean;
  /**
   * What to look up, and how, when an undo command needs a value the state did not record (a pid,
   * a token, a snapshot name): such a command is never printed for a person to run with a
   * placeholder in it (issue 24), this sentence is.
   */
  lookUp?(ctx: StepContext): string;
}

/** A step failed: `message` says what, `fix` what the owner can do about it. */
export class StepError extends Error {
  constructor(
    message: string,
    readonly fix?: string,
  ) {
    super(message);
  }
}

// Runs a command and turns a non-zero exit into a StepError quoting the command and its stderr.
export async function mustRun(ctx: StepContext, c: Cmd, fix?: string): Promise<CmdResult> {
  const r = await ctx.runner.run(c);
  if (r.exitCode !== 0) {
    const detail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(0, 3).join(' / ');
    throw new StepError(`"${formatCommand(c)}" failed (exit ${r.exitCode})${detail ? `: ${detail}` : ''}`, fix);
  }
  return r;
}

// A step that changes nothing and so has nothing to undo (a check, a wait, a lookup).
export const noUndo = {
  undoCommands: (): Cmd[] => [],
  undo: async (): Promise<void> => {},
};
