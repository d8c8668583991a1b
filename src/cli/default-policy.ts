// Where the policy is when a daily command is given none: the file the README's `init -o` writes.
// One place, so every command that reads a policy finds the same one.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { homeDir } from '../lazy-builtins.ts';
import { CommandFailure } from './command-failure.ts';
import { EXIT, type Io } from './io.ts';

/** Shown in help and messages; ~ is the home of whoever runs the command. */
export const DEFAULT_POLICY_SHOWN = '~/.config/nanopolicy/nanoclaw.policy';

export const POLICY_ARGUMENT_HELP = `policy file (default ${DEFAULT_POLICY_SHOWN})`;

// The policy file to read: the one given, else the default, which must exist.
export function policyFile(given: string | undefined, io: Io): string {
  if (given !== undefined) return given;
  const path = join(io.env.HOME ?? homeDir(), '.config/nanopolicy/nanoclaw.policy');
  if (!existsSync(path)) {
    throw new CommandFailure(EXIT.policy, `no policy file was given, and there is none at ${DEFAULT_POLICY_SHOWN}.`, {
      hint: `Write one with "nanopolicy init -o ${DEFAULT_POLICY_SHOWN}", or name the policy file.`,
    });
  }
  return path;
}
