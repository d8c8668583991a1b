// Runs the compiler's own checks on the policy init wrote and turns each statement it refuses into
// a comment that says why, until the whole file passes: init never hands over a policy `check`
// would refuse, and never drops a finding silently.

import { compilePolicy } from '../compiler/compile.ts';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import { comment } from './policy-text.ts';
import type { PolicyLine } from './render-policy.ts';

export interface Settled {
  text: string;
  /** The compiler's warnings on the final text, and one line per refused statement. */
  warnings: string[];
}

export class InitCheckError extends Error {}

// `file` and `cwd` place the policy where it will be written (NP249 looks at that).
export function settleWithCheck(lines: PolicyLine[], opts: { file: string; cwd: string; home: string }): Settled {
  const current = lines.map((l) => ({ ...l }));
  const refusals: string[] = [];
  for (let round = 0; round <= current.length; round++) {
    const text = `${current.map((l) => l.text).join('\n')}\n`;
    const outcome = compilePolicy({ file: opts.file, source: text, home: opts.home, cwd: opts.cwd, scanShares: true });
    const errors = outcome.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length === 0) {
      const warnings = outcome.diagnostics.map((d) => `${opts.file}:${d.line}: ${d.message}${d.hint ? ` (${d.hint})` : ''}`);
      return { text, warnings: [...refusals, ...warnings] };
    }
    let changed = false;
    for (const d of errors) {
      const line = current[d.line - 1];
      if (line === undefined || !line.statement || d.code === 'NP249') throw new InitCheckError(describe(d));
      current[d.line - 1] = { text: comment(`${line.text}   <- refused by check, ${d.code}: ${d.message}`) };
      refusals.push(`${opts.file}:${d.line}: "${line.text}" is left as a comment: ${d.message}`);
      changed = true;
    }
    if (!changed) break;
  }
  throw new InitCheckError('the policy init wrote does not pass check');
}

function describe(d: Diagnostic): string {
  return `${d.code}: ${d.message}${d.hint ? ` ${d.hint}` : ''}`;
}
