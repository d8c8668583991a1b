// A policy names its VM exactly once and describes its network at most once.

import { errorAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { statementsOf, type CheckContext } from '../check-context.ts';

export function reportStatementCounts({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const vms = statementsOf(ast, 'vm');
  if (vms.length === 0) {
    out.push(
      errorAt(ast.file, { line: 1, column: 1, endColumn: 2 }, {
        code: 'NP201',
        message: 'The policy does not say which VM it is for.',
        hint: 'Add a line "vm NAME" with the Tart VM\'s name, as in "vm nanoclaw-vm".',
      }),
    );
  }
  const first = vms[0];
  for (const extra of vms.slice(1)) {
    out.push(
      errorAt(ast.file, extra.span, {
        code: 'NP202',
        message: `A second "vm" line names "${extra.name.value}"; a policy is for exactly one VM.`,
        hint: 'Keep one "vm" line; write one policy file per VM.',
        notes: first ? [`The VM is first named "${first.name.value}" on line ${first.span.line}.`] : [],
      }),
    );
  }
  const networks = statementsOf(ast, 'network');
  for (const extra of networks.slice(1)) {
    out.push(
      errorAt(ast.file, extra.span, {
        code: 'NP203',
        message: 'A second "network" line; the VM has one network.',
        hint: 'Merge the two into one line: "network softnet subnet A.B.C.D/N gateway A.B.C.D".',
        notes: [`The network is first described on line ${networks[0]!.span.line}.`],
      }),
    );
  }
  return out;
}
