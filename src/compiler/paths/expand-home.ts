// Mount paths as tart gets them: absolute, with "~" expanded for the host user who compiles, since
// tart would expand it against whoever runs tart (domain.md §2).

import { posix } from 'node:path';

export type Expanded = { ok: true; path: string } | { ok: false; problem: 'relative' | 'other-user' };

export function expandHome(written: string, home: string): Expanded {
  if (written === '~' || written.startsWith('~/')) return { ok: true, path: normalize(home + written.slice(1)) };
  if (written.startsWith('~')) return { ok: false, problem: 'other-user' };
  if (!written.startsWith('/')) return { ok: false, problem: 'relative' };
  return { ok: true, path: normalize(written) };
}

// "/a//b/./c/" → "/a/b/c"; ".." is refused earlier, so normalizing never climbs.
function normalize(path: string): string {
  const out = posix.normalize(path);
  return out.length > 1 && out.endsWith('/') ? out.slice(0, -1) : out;
}

// True when `inner` is `outer` or lies below it.
export function isWithin(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer === '/' ? '/' : `${outer}/`);
}
