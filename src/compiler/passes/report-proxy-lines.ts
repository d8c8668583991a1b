// One proxy per VM: at most one `proxy` line, and a `proxy` line only where egress is listed (a
// proxy with no names to allow would only be one more open port on the gateway).

import { errorAt, warningAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { egressRules, statementsOf, type CheckContext } from '../check-context.ts';

export function reportProxyLines({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const lines = statementsOf(ast, 'proxy');
  for (const extra of lines.slice(1)) {
    out.push(
      errorAt(ast.file, extra.span, {
        code: 'NP267',
        message: 'A second "proxy" line; the VM has one egress proxy.',
        hint: 'Keep one "proxy via PORT [max-conn N]" line.',
        notes: [`The proxy is first described on line ${lines[0]!.span.line}.`],
      }),
    );
  }
  if (lines[0] && egressRules(ast).length === 0) {
    out.push(
      warningAt(ast.file, lines[0].span, {
        code: 'NP269',
        message: 'A "proxy" line without any "egress" line: no proxy is started.',
        hint: 'Add the names the VM may reach, as in "egress claude api.anthropic.com", or remove the line.',
      }),
    );
  }
  return out;
}
