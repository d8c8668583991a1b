// Every bridge, mount and egress rule has its own name: names label rules, processes, shares and probe results.

import { errorAt, type Diagnostic } from '../diagnostic.ts';
import type { CheckContext } from '../check-context.ts';

export function reportDuplicateNames({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const first = new Map<string, { kind: string; line: number }>();
  for (const statement of ast.statements) {
    if (statement.kind !== 'allow' && statement.kind !== 'mount' && statement.kind !== 'egress') continue;
    const kind = { allow: 'bridge', mount: 'mount', egress: 'egress rule' }[statement.kind];
    const name = statement.name.value;
    const earlier = first.get(name);
    if (earlier) {
      out.push(
        errorAt(ast.file, statement.name.span, {
          code: 'NP206',
          message: `The name "${name}" is already used by the ${earlier.kind} on line ${earlier.line}.`,
          hint: `Give this ${kind} a name of its own.`,
        }),
      );
    } else {
      first.set(name, { kind, line: statement.span.line });
    }
  }
  return out;
}
