// No folder is shared twice, whole or in part: one mount inside another gives the inner folder
// the outer one's mode, whatever its own line says. Paths compare as a Mac compares them (without
// case, normalised), and in O(n log n): mounts sorted by path form a tree of containment.

import { errorAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { mounts, type CheckContext } from '../check-context.ts';
import type { MountStatement } from '../../grammar/ast.ts';
import { mountPaths } from '../paths/usable-mount-path.ts';

interface Entry {
  statement: MountStatement;
  path: string;
  /** The folded path with a final "/", so "a/" is a prefix of "a/b/" but not of "ab/". */
  key: string;
  line: number;
  /** The earliest line among the mounts that contain this one / that it contains. */
  outer?: Entry;
  inner?: Entry;
}

export function checkNestedMounts({ ast, home }: CheckContext): Diagnostic[] {
  const entries: Entry[] = [];
  const list = mounts(ast);
  const paths = mountPaths(ast, home);
  for (let i = 0; i < list.length; i++) {
    const statement = list[i]!;
    const path = paths.path[i];
    const folded = paths.folded[i];
    if (path === undefined || folded === undefined) continue;
    entries.push({ statement, path, key: folded.endsWith('/') ? folded : `${folded}/`, line: statement.span.line });
  }
  // Sorted by key (ties by line), every mount's ancestors sit on the stack when it is reached, and
  // its descendants follow it before it is popped.
  // The sort is stable and entries are in line order, so ties keep it. (Indexed loops here and
  // below: see findOption.)
  const sorted = entries.slice().sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  // The stack as an array of its greatest size and a height: an array popped empty and pushed
  // again gets a new backing store each time, once per mount here (issue 9).
  const stack = new Array<Entry>(sorted.length);
  let height = 0;
  const pop = () => {
    const done = stack[--height]!;
    const parent = height > 0 ? stack[height - 1] : undefined;
    if (parent) parent.inner = earliest(parent.inner, earliest(done, done.inner));
  };
  for (let i = 0; i < sorted.length; i++) {
    const entry = sorted[i]!;
    while (height > 0 && !entry.key.startsWith(stack[height - 1]!.key)) pop();
    const parent = height > 0 ? stack[height - 1] : undefined;
    if (parent) entry.outer = earliest(parent.outer, parent);
    stack[height++] = entry;
  }
  while (height > 0) pop();

  const out: Diagnostic[] = [];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    // As before: each mount is reported against the earliest mount before it that it touches.
    const earlier = earliest(entry.outer, entry.inner);
    if (!earlier || earlier.line >= entry.line) continue;
    const relation = earlier.key === entry.key ? 'the same folder as' : entry.key.startsWith(earlier.key) ? 'inside' : 'around';
    out.push(
      errorAt(ast.file, entry.statement.path.span, {
        code: 'NP248',
        message: `The mount "${entry.statement.name.value}" shares ${relation} the mount "${earlier.statement.name.value}" on line ${earlier.line} ("${earlier.path}").`,
        hint:
          relation === 'the same folder as'
            ? 'Share each folder once.'
            : 'Share folders that do not contain each other; otherwise the VM reaches the inner folder with the outer mount\'s mode.',
      }),
    );
  }
  return out;
}

function earliest(a: Entry | undefined, b: Entry | undefined): Entry | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.line < a.line ? b : a;
}
