// Every bridge, mount and egress rule has its own name: names label rules, processes, shares and probe results.

import { errorAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import type { CheckContext } from '../check-context.ts';
import type { AllowStatement, EgressStatement, MountStatement } from '../../grammar/ast.ts';

const KIND = { allow: 'bridge', mount: 'mount', egress: 'egress rule' } as const;

export function reportDuplicateNames({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  // Each name's first statement itself: nothing is built for the many names used once (issue 9).
  const first = new Map<string, AllowStatement | MountStatement | EgressStatement>();
  // Indexed, as every loop over all statements: see findOption.
  const { statements } = ast;
  for (let i = 0; i < statements.length; i++) {
    const statement = statements[i]!;
    if (statement.kind !== 'allow' && statement.kind !== 'mount' && statement.kind !== 'egress') continue;
    const name = statement.name.value;
    const earlier = first.get(name);
    if (earlier) {
      out.push(
        errorAt(ast.file, statement.name.span, {
          code: 'NP206',
          message: `The name "${name}" is already used by the ${KIND[earlier.kind]} on line ${earlier.span.line}.`,
          hint: `Give this ${KIND[statement.kind]} a name of its own.`,
        }),
      );
    } else {
      first.set(name, statement);
    }
  }
  return out;
}
