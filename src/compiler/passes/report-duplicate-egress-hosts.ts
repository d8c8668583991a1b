// Each host:port is listed once across all egress lines: a repeat means the owner lost track of
// which rule allows it (and the audit log would name only one of them).

import { errorAt, type Diagnostic } from '../diagnostic.ts';
import { egressRules, type CheckContext } from '../check-context.ts';
import { egressKey, parseEgressHost } from '../net/egress-host.ts';

export function reportDuplicateEgressHosts({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const first = new Map<string, { rule: string; line: number }>();
  for (const rule of egressRules(ast)) {
    for (const written of rule.hosts) {
      const parsed = parseEgressHost(written.value);
      if (!parsed.ok) continue;
      const key = egressKey(parsed);
      const earlier = first.get(key);
      if (earlier) {
        const where = earlier.rule === rule.name.value && earlier.line === rule.span.line ? 'earlier on this line' : `by the egress rule "${earlier.rule}" on line ${earlier.line}`;
        out.push(
          errorAt(ast.file, written.span, {
            code: 'NP263',
            message: `"${key}" is already listed ${where}.`,
            hint: 'List each name and port once; remove this one.',
          }),
        );
      } else {
        first.set(key, { rule: rule.name.value, line: rule.span.line });
      }
    }
  }
  return out;
}
