// Where a path really leads on this host: symlinks resolved in every part that exists, the rest
// (a folder compile is about to create) kept as written. The cage checks compare these, since a
// lexical "outside the share" says nothing when a parent is a symlink into the share.

import { realpathSync } from 'node:fs';
import { posix } from 'node:path';

export type RealPath = (absolute: string) => string;

// The real path of an absolute path, or of its nearest existing ancestor with the rest appended.
export const realPathOnHost: RealPath = (absolute) => {
  const rest: string[] = [];
  let current = posix.normalize(absolute);
  for (;;) {
    try {
      const real = realpathSync.native(current);
      return rest.length === 0 ? real : posix.join(real, ...rest.reverse());
    } catch {
      const parent = posix.dirname(current);
      if (parent === current) return absolute;
      rest.push(posix.basename(current));
      current = parent;
    }
  }
};

/** For pure compiles (tests, fixtures): paths are taken as written. */
export const lexicalPath: RealPath = (absolute) => absolute;
