// Preflight: checks that change nothing, all run before the first step, every problem reported at
// once with what to do about it. Any problem means exit 3 with the host untouched.

import type { CommandRunner } from '../host/command-runner.ts';
import type { Cmd } from '../host/command.ts';

export interface PreflightProblem {
  check: string;
  message: string;
  fix: string;
}

export interface PreflightContext {
  runner: CommandRunner;
  env: NodeJS.ProcessEnv;
}

export interface PreflightCheck {
  id: string;
  describe: string;
  /** Commands it runs, for --dry-run. */
  commands: Cmd[];
  check(ctx: PreflightContext): Promise<Omit<PreflightProblem, 'check'>[]>;
}

// Runs every check (none stops the others) and returns all problems, in the checks' order. They
// run at once: a check changes nothing, and most of them wait on a program (pfctl through sudo,
// tart, softnet), one after another the larger part of enforce's time on a Mac (issue 9).
export async function runPreflight(checks: readonly PreflightCheck[], ctx: PreflightContext): Promise<PreflightProblem[]> {
  const found = await Promise.all(
    checks.map(async (c): Promise<PreflightProblem[]> => {
      try {
        return (await c.check(ctx)).map((p) => ({ check: c.id, ...p }));
      } catch (error) {
        return [{ check: c.id, message: `${c.describe}: ${(error as Error)?.message ?? String(error)}`, fix: 'Fix the cause above and run enforce again.' }];
      }
    }),
  );
  return found.flat();
}
