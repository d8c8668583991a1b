// A command that could not do its work, thrown to main, which prints it the one way every command
// does: under --json one JSON object on stdout ({ ok: false, error, … }), else the diagnostics or
// one line on stderr with a hint; the exit code is the cause's (io.ts EXIT), the same in every command.

import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import { EXIT } from './io.ts';

export interface FailureDetails {
  /** What to do about it, one sentence. */
  hint?: string;
  /** The policy file, when the failure is about one. */
  file?: string;
  /** The policy's problems (printed rustc-style, or as JSON records). */
  diagnostics?: readonly Diagnostic[];
  /** The policy's text, for the snippet under each diagnostic. */
  source?: string;
}

export class CommandFailure extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    readonly details: FailureDetails = {},
  ) {
    super(message);
  }
}

// The policy could not be read or has errors: exit 1 from every command that reads one.
export function policyFailure(file: string, outcome: { diagnostics: readonly Diagnostic[]; source?: string }): CommandFailure {
  return new CommandFailure(EXIT.policy, `the policy "${file}" has errors; nothing was done.`, {
    file,
    diagnostics: outcome.diagnostics,
    ...(outcome.source !== undefined ? { source: outcome.source } : {}),
  });
}
