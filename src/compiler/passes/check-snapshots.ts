// `snapshot keep N` appears at most once, and N is a count of snapshots a disk can hold (1–100).

import { errorAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { statementsOf, type CheckContext } from '../check-context.ts';

/** Each snapshot is a full APFS clone: cheap at first, but each one keeps the blocks the VM since changed. */
export const MAX_SNAPSHOTS = 100;

export function checkSnapshots({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const lines = statementsOf(ast, 'snapshot');
  for (const extra of lines.slice(1)) {
    out.push(
      errorAt(ast.file, extra.span, {
        code: 'NP280',
        message: 'A second "snapshot" line; the VM keeps one number of snapshots.',
        hint: 'Keep one line "snapshot keep N".',
        notes: [`Snapshots are first set on line ${lines[0]!.span.line}.`],
      }),
    );
  }
  for (const line of lines) {
    const n = Number(line.count.value);
    if (!Number.isInteger(n) || n < 1 || n > MAX_SNAPSHOTS) {
      out.push(
        errorAt(ast.file, line.count.span, {
          code: 'NP281',
          message: `"snapshot keep ${line.count.value}" keeps ${n < 1 ? 'no' : 'too many'} snapshots; it takes a number from 1 to ${MAX_SNAPSHOTS}.`,
          hint: n < 1 ? 'To take no snapshots, remove the "snapshot" line.' : `Keep a few, as in "snapshot keep 5": each clone holds every block the VM changed since.`,
        }),
      );
    }
  }
  return out;
}
