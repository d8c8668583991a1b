// No option appears twice on one line: "max-conn 8 max-conn 64" means nothing certain.

import { errorAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import type { CheckContext } from '../check-context.ts';

export function reportRepeatedOptions({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  // Indexed, as every loop over all statements: see findOption.
  const { statements } = ast;
  for (let i = 0; i < statements.length; i++) {
    const statement = statements[i]!;
    // One option cannot repeat: no set to build for the many lines with none or one (issue 9).
    if (statement.kind === 'snapshot' || !('options' in statement) || statement.options.length < 2) continue;
    const seen = new Set<string>();
    for (const option of statement.options) {
      if (seen.has(option.key.value)) {
        out.push(
          errorAt(ast.file, option.key.span, {
            code: 'NP204',
            message: `The option "${option.key.value}" is given twice on this line.`,
            hint: `Keep one "${option.key.value}".`,
          }),
        );
      }
      seen.add(option.key.value);
    }
  }
  return out;
}
