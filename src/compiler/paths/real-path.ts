// Where a path really leads on this host: symlinks resolved in every part that exists, the rest
// (a folder compile is about to create) kept as written. The cage checks compare these, since a
// lexical "outside the share" says nothing when a parent is a symlink into the share.

import { lstatSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';

export type RealPath = (absolute: string) => string;

// The real path of an absolute path, or of its nearest existing ancestor with the rest appended.
// One resolver per compile: it remembers where each folder it looked up leads and whether it
// exists. A path is resolved from its folder: one step when that folder is known (most paths share
// theirs with another), else down from the root, storing each folder on the way. Below a missing
// folder nothing exists and nothing is stored or looked up: the path leads where that folder
// leads, with the rest appended. Below an existing folder a path costs one lstat, and realpath
// only where that entry is a symlink. So 10,000 mounts under one missing folder cost a lookup or
// two each: no thrown errors, no lstat per level, no entry per path (issue 9). lstat answers "no
// such file" without an exception. Cached for one compile only: the file system may change.
export function realPathResolver(): RealPath {
  const known = new Map<string, Resolved>();
  // Where a path leads, given where one of its folders (`at`) leads: the same string when that
  // folder leads to itself.
  const below = (folder: Resolved, at: string, path: string) => (folder.real === at ? path : `${folder.real === '/' ? '' : folder.real}${path.slice(at === '/' ? 0 : at.length)}`);
  // An entry of a folder already resolved.
  const entryOf = (folder: Resolved, at: string, path: string): Resolved => {
    const real = below(folder, at, path);
    return (folder.exists ? lookUp(real) : undefined) ?? { real, exists: false };
  };
  const resolve = (path: string): string => {
    const hit = known.get(path);
    if (hit !== undefined) return hit.real;
    if (path === '/' || !path.startsWith('/')) {
      const whole = resolveWhole(path);
      known.set(path, whole);
      return whole.real;
    }
    // The path is absolute and plain ("/a/b"): its folder by slicing.
    const cut = path.lastIndexOf('/');
    const folderPath = cut === 0 ? '/' : path.slice(0, cut);
    let folder = known.get(folderPath);
    let at = folderPath;
    if (folder === undefined) {
      folder = known.get('/') ?? resolveWhole('/');
      known.set('/', folder);
      at = '/';
      for (let next = path.indexOf('/', 1); next !== -1 && next <= cut && folder.exists; next = path.indexOf('/', next + 1)) {
        const prefix = path.slice(0, next);
        let entry = known.get(prefix);
        if (entry === undefined) known.set(prefix, (entry = entryOf(folder, at, prefix)));
        folder = entry;
        at = prefix;
      }
    }
    if (!folder.exists) return below(folder, at, path);
    const entry = entryOf(folder, at, path);
    known.set(path, entry);
    return entry.real;
  };
  return (absolute) => resolve(plainPath(absolute));
}

interface Resolved {
  real: string;
  exists: boolean;
}

// The root (or a path with no "/" at all, which callers do not pass): realpath alone.
function resolveWhole(path: string): Resolved {
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
  if (!UNPLAIN.test(path)) return path;
  const normal = posix.normalize(path);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

/** "//", a "." or ".." segment, or a final "/". (Made once: a regex literal in the function is a new object per call.) */
const UNPLAIN = /\/\/|\/\.\.?(\/|$)|.\/$/;

/** A fresh resolver for every call: for one-off lookups outside a compile. */
export const realPathOnHost: RealPath = (absolute) => realPathResolver()(absolute);

/** For pure compiles (tests, fixtures): paths are taken as written. */
export const lexicalPath: RealPath = (absolute) => absolute;
