// Every egress host is a DNS name (or "*.suffix") with a port in range: never an IP literal in any
// spelling, never the host itself, and never a wildcard over a whole public suffix ("*.com").

import type { Located, Span } from '../../grammar/ast.ts';
import { errorAt, warningAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { egressRules, type CheckContext } from '../check-context.ts';
import { parsedEgressHosts } from '../net/egress-host.ts';
import { publicSuffixKind } from '../../net/public-suffix.ts';

export function checkEgressHosts({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const rules = egressRules(ast);
  const parsedHosts = parsedEgressHosts(ast);
  for (let r = 0; r < rules.length; r++) {
    const hosts = rules[r]!.hosts;
    for (let h = 0; h < hosts.length; h++) {
      const written = hosts[h]!;
      const parsed = parsedHosts[r]![h]!;
      if (!parsed.ok) {
        out.push(errorAt(ast.file, part(written, parsed.offset, parsed.length), parsed));
        continue;
      }
      if (!parsed.wildcard) continue;
      const suffix = parsed.host.slice(2);
      const kind = publicSuffixKind(suffix);
      const span = part(written, 0, written.value.split(':')[0]!.length);
      if (kind === 'icann') {
        out.push(
          errorAt(ast.file, span, {
            code: 'NP260',
            message: `The wildcard "${parsed.host}" covers the public suffix "${suffix}", where anyone can register a name.`,
            hint: `List the names the agent needs, or a wildcard below a domain its owner controls, as in "*.example.${suffix}".`,
          }),
        );
      } else if (kind === 'private') {
        out.push(
          warningAt(ast.file, span, {
            code: 'NP268',
            message: `The wildcard "${parsed.host}" covers "${suffix}", a suffix under which its operator lets anyone have a name.`,
            hint: 'Anything published there is reachable, including what someone else put up to receive data; prefer the exact names.',
          }),
        );
      }
    }
  }
  return out;
}

// The span of `length` characters at `offset` within a written token.
function part(token: Located, offset: number, length: number): Span {
  const column = token.span.column + offset;
  return { line: token.span.line, column, endColumn: Math.min(token.span.endColumn, column + Math.max(1, length)) };
}
