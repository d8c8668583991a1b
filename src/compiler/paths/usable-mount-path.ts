// The absolute path each mount line shares, or undefined when check-mount-paths refuses its path
// (later passes then stay quiet about it rather than pile on).

import type { PolicyAst } from '../../grammar/ast.ts';
import { mounts } from '../check-context.ts';
import { expandHome } from './expand-home.ts';
import { foldPath } from './fold-path.ts';

/** Aligned with mounts(ast): entry i is about mount i. */
export interface MountPaths {
  /** The absolute path mount i shares, or undefined when its path is refused. */
  readonly path: ReadonlyArray<string | undefined>;
  /** foldPath of path[i], where there is one. */
  readonly folded: ReadonlyArray<string | undefined>;
}

// Four passes ask for every mount's path, two for its folded form: they are made once per tree and
// home folder, as two arrays rather than a record per mount (issue 9: a 10,000-mount policy's
// paths are kept through every pass, and the garbage collector copies what is kept).
const known = new WeakMap<PolicyAst, MountPaths & { home: string }>();

export function mountPaths(ast: PolicyAst, home: string): MountPaths {
  let hit = known.get(ast);
  if (hit?.home !== home) {
    const list = mounts(ast);
    const path = new Array<string | undefined>(list.length);
    const folded = new Array<string | undefined>(list.length);
    for (let i = 0; i < list.length; i++) {
      const usablePath = usable(list[i]!.path.value, home);
      path[i] = usablePath;
      folded[i] = usablePath === undefined ? undefined : foldPath(usablePath);
    }
    known.set(ast, (hit = { home, path, folded }));
  }
  return hit;
}

function usable(written: string, home: string): string | undefined {
  if (written === '' || REFUSED_CHARACTER.test(written) || CLIMBS.test(written)) return undefined;
  const expanded = expandHome(written, home);
  return expanded.ok ? expanded.path : undefined;
}

/** What check-mount-paths refuses in a path: tart's separators, control and bidirectional characters. */
const REFUSED_CHARACTER = /[:,\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** A ".." segment anywhere in the path. */
export const CLIMBS = /(^|\/)\.\.(\/|$)/;
