// The absolute path a mount line shares, or undefined when check-mount-paths refuses its path
// (later passes then stay quiet about it rather than pile on).

import type { MountStatement } from '../../grammar/ast.ts';
import { expandHome } from './expand-home.ts';
import { foldPath } from './fold-path.ts';

// Four passes ask for every mount's path, two for its folded form: each mount's answer is kept,
// per home folder (issue 9).
const known = new WeakMap<MountStatement, { home: string; path: string | undefined; folded?: string }>();

function entry(mount: MountStatement, home: string): { home: string; path: string | undefined; folded?: string } {
  let hit = known.get(mount);
  if (hit?.home !== home) known.set(mount, (hit = { home, path: usable(mount.path.value, home) }));
  return hit;
}

export function usableMountPath(mount: MountStatement, home: string): string | undefined {
  return entry(mount, home).path;
}

/** foldPath of usableMountPath, when there is one. */
export function foldedMountPath(mount: MountStatement, home: string): string | undefined {
  const hit = entry(mount, home);
  if (hit.path !== undefined) hit.folded ??= foldPath(hit.path);
  return hit.folded;
}

function usable(written: string, home: string): string | undefined {
  if (written === '' || /[:,\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(written) || CLIMBS.test(written)) return undefined;
  const expanded = expandHome(written, home);
  return expanded.ok ? expanded.path : undefined;
}

/** A ".." segment anywhere in the path. */
export const CLIMBS = /(^|\/)\.\.(\/|$)/;
