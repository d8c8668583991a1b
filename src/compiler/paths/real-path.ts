// Where a path really leads on this host: symlinks resolved in every part that exists, the rest
// (a folder compile is about to create) kept as written. The cage checks compare these, since a
// lexical "outside the share" says nothing when a parent is a symlink into the share.

import { lstatSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';

export type RealPath = (absolute: string) => string;

// The real path of an absolute path, or of its nearest existing ancestor with the rest appended.
// One resolver per compile: it remembers every path it resolved and whether realpath could. A path
// that exists costs lstat and realpath, whatever its depth; a path under a folder known not to
// resolve cannot resolve either and costs nothing, so 10,000 mounts under one missing folder cost
// a few lookups, not 30,000 thrown errors (issue 9). lstat answers "no such file" without an
// exception. Cached for one compile only: the file system may change between runs.
export function realPathResolver(): RealPath {
  const known = new Map<string, { real: string; resolved: boolean }>();
  const resolve = (path: string): { real: string; resolved: boolean } => {
    const hit = known.get(path);
    if (hit !== undefined) return hit;
    // The path is absolute and plain ("/a/b", or "/"): its parent and last name by slicing.
    const cut = path.lastIndexOf('/');
    const parentPath = path === '/' || cut < 0 ? undefined : cut === 0 ? '/' : path.slice(0, cut);
    let parent = parentPath === undefined ? undefined : known.get(parentPath);
    let out: { real: string; resolved: boolean } | undefined;
    if (parent?.resolved !== false) {
      try {
        if (lstatSync(path, { throwIfNoEntry: false }) !== undefined) out = { real: realpathSync.native(path), resolved: true };
      } catch {
        // A dangling or looping link, or a folder we may not search: resolved through its parent.
      }
    }
    if (out === undefined) {
      if (parentPath !== undefined) parent ??= resolve(parentPath);
      // A parent that leads to itself leaves the path as it is: no new string (issue 9).
      const real = parent === undefined || parent.real === parentPath ? path : `${parent.real === '/' ? '' : parent.real}/${path.slice(cut + 1)}`;
      out = { real, resolved: false };
    }
    known.set(path, out);
    return out;
  };
  return (absolute) => resolve(plainPath(absolute)).real;
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
