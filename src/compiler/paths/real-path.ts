// Where a path really leads on this host: symlinks resolved in every part that exists, the rest
// (a folder compile is about to create) kept as written. The cage checks compare these, since a
// lexical "outside the share" says nothing when a parent is a symlink into the share.

import { lstatSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';

export type RealPath = (absolute: string) => string;

// The real path of an absolute path, or of its nearest existing ancestor with the rest appended.
// One resolver per compile: it remembers every path it resolved and whether it exists. A path is
// resolved from its parent down: under a missing folder nothing exists, so a path there costs no
// system call at all, and below an existing one it costs one lstat, and realpath only where that
// entry is a symlink. 10,000 mounts under one missing folder cost a few lookups, not 30,000 thrown
// errors, and 10,000 deep paths under it not 40,000 lstat calls (issue 9). lstat answers "no such
// file" without an exception. Cached for one compile only: the file system may change between runs.
export function realPathResolver(): RealPath {
  const known = new Map<string, Resolved>();
  const resolve = (path: string): Resolved => {
    const hit = known.get(path);
    if (hit !== undefined) return hit;
    // The path is absolute and plain ("/a/b", or "/"): its parent and last name by slicing.
    const cut = path.lastIndexOf('/');
    let out: Resolved;
    if (path === '/' || cut < 0) {
      out = whole(path);
    } else {
      const parentPath = cut === 0 ? '/' : path.slice(0, cut);
      const parent = resolve(parentPath);
      // Where the parent leads, with this name: the path's own string when the parent leads to itself.
      const joined = parent.real === parentPath ? path : `${parent.real === '/' ? '' : parent.real}/${path.slice(cut + 1)}`;
      out = (parent.exists ? lookUp(joined) : undefined) ?? { real: joined, exists: false };
    }
    known.set(path, out);
    return out;
  };
  return (absolute) => resolve(plainPath(absolute)).real;
}

interface Resolved {
  real: string;
  exists: boolean;
}

// The root (or a path with no "/" at all, which callers do not pass): realpath alone.
function whole(path: string): Resolved {
  try {
    return { real: realpathSync.native(path), exists: true };
  } catch {
    return { real: path, exists: false };
  }
}

// An entry whose parent is already real: itself when it is no symlink, else where realpath says it
// leads. Missing, a dangling or looping link, or a folder we may not search: undefined (the caller
// keeps the path as it is written below its parent).
function lookUp(path: string): Resolved | undefined {
  try {
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (stat === undefined) return undefined;
    return { real: stat.isSymbolicLink() ? realpathSync.native(path) : path, exists: true };
  } catch {
    return undefined;
  }
}

// The path normalised, without a final "/" (realpath answers the same either way); posix.normalize
// copies every path, and most are already plain (issue 9).
function plainPath(path: string): string {
  if (!/\/\/|\/\.\.?(\/|$)|.\/$/.test(path)) return path;
  const normal = posix.normalize(path);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

/** A fresh resolver for every call: for one-off lookups outside a compile. */
export const realPathOnHost: RealPath = (absolute) => realPathResolver()(absolute);

/** For pure compiles (tests, fixtures): paths are taken as written. */
export const lexicalPath: RealPath = (absolute) => absolute;
