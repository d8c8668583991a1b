// Mount paths as tart gets them: absolute, with "~" expanded for the host user who compiles, since
// tart would expand it against whoever runs tart (domain.md §2).

import { posix } from 'node:path';
import { foldPath } from './fold-path.ts';

export type Expanded = { ok: true; path: string } | { ok: false; problem: 'relative' | 'other-user' };

export function expandHome(written: string, home: string): Expanded {
  if (written === '~' || written.startsWith('~/')) return { ok: true, path: normalize(home + written.slice(1)) };
  if (written.startsWith('~')) return { ok: false, problem: 'other-user' };
  if (!written.startsWith('/')) return { ok: false, problem: 'relative' };
  return { ok: true, path: normalize(written) };
}

// "/a//b/./c/" → "/a/b/c"; ".." is refused earlier, so normalizing never climbs.
function normalize(path: string): string {
  // Most paths are already plain; posix.normalize would copy each of them (issue 9).
  if (!UNPLAIN.test(path)) return path;
  const out = posix.normalize(path);
  return out.length > 1 && out.endsWith('/') ? out.slice(0, -1) : out;
}

/** "//", a "." or ".." segment, or a final "/": what posix.normalize would change. */
const UNPLAIN = /\/\/|\/\.\.?(\/|$)|.\/$/;

// True when `inner` is `outer` or lies below it, compared as a macOS volume compares names
// (without case, after Unicode normalisation): erring toward "inside" only ever refuses more.
export function isWithin(inner: string, outer: string): boolean {
  return foldedWithin(foldPath(inner), foldPath(outer));
}

/** isWithin for paths already folded. */
export function foldedWithin(inner: string, outer: string): boolean {
  if (inner === outer) return true;
  if (outer === '/') return inner.startsWith('/');
  // inner.startsWith(`${outer}/`), without building that string for every pair compared (issue 9).
  return inner.length > outer.length && inner.charCodeAt(outer.length) === 0x2f && inner.startsWith(outer);
}
