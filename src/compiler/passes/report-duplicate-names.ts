// Every bridge, mount, egress rule and secret has its own name: names label rules, processes, shares and probe results.

import { errorAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import type { CheckContext } from '../check-context.ts';
import type { AllowStatement, EgressStatement, MountStatement, SecretStatement } from '../../grammar/ast.ts';

const KIND = { allow: 'bridge', mount: 'mount', egress: 'egress rule', secret: 'secret' } as const;

export function reportDuplicateNames({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  // Each name's first statement itself: nothing is built for the many names used once (issue 9).
  const first = new Map<string, AllowStatement | MountStatement | EgressStatement | SecretStatement>();
  // Indexed, as every loop over all statements: see findOption.
  const { statements } = ast;
  for (let i = 0; i < statements.length; i++) {
    const statement = statements[i]!;
    if (statement.kind !== 'allow' && statement.kind !== 'mount' && statement.kind !== 'egress' && statement.kind !== 'secret') continue;
    // Secrets have a namespace of their own: "secret discord" beside "egress discord" reads well.
    const name = statement.kind === 'secret' ? `{${statement.name.value}}` : statement.name.value;
    const earlier = first.get(name);
    if (earlier) {
      out.push(
        errorAt(ast.file, statement.name.span, {
          code: 'NP206',
          message: `The name "${statement.name.value}" is already used by the ${KIND[earlier.kind]} on line ${earlier.span.line}.`,
          hint: `Give this ${KIND[statement.kind]} a name of its own.`,
        }),
      );
    } else {
      first.set(name, statement);
    }
  }
  return out;
}
