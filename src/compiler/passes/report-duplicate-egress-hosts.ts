// Each host:port is listed once across all egress lines: a repeat means the owner lost track of
// which rule allows it (and the audit log would name only one of them).

import type { EgressStatement } from '../../grammar/ast.ts';
import { errorAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { egressRules, type CheckContext } from '../check-context.ts';
import { egressKey, parsedEgressHosts } from '../net/egress-host.ts';

export function reportDuplicateEgressHosts({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  // Each host's first rule itself, by port and then name: nothing is built for the many hosts
  // listed once, not even their "host:port" (issue 9).
  const first = new Map<number, Map<string, EgressStatement>>();
  const rules = egressRules(ast);
  const parsedHosts = parsedEgressHosts(ast);
  for (let r = 0; r < rules.length; r++) {
    const rule = rules[r]!;
    for (let h = 0; h < rule.hosts.length; h++) {
      const written = rule.hosts[h]!;
      const parsed = parsedHosts[r]![h]!;
      if (!parsed.ok) continue;
      let onPort = first.get(parsed.port);
      if (onPort === undefined) first.set(parsed.port, (onPort = new Map()));
      const earlier = onPort.get(parsed.host);
      if (earlier) {
        const where = earlier === rule ? 'earlier on this line' : `by the egress rule "${earlier.name.value}" on line ${earlier.span.line}`;
        out.push(
          errorAt(ast.file, written.span, {
            code: 'NP263',
            message: `"${egressKey(parsed)}" is already listed ${where}.`,
            hint: 'List each name and port once; remove this one.',
          }),
        );
      } else {
        onPort.set(parsed.host, rule);
      }
    }
  }
  return out;
}
