// The absolute path a mount line shares, or undefined when check-mount-paths refuses its path
// (later passes then stay quiet about it rather than pile on).

import type { MountStatement } from '../../grammar/ast.ts';
import { expandHome } from './expand-home.ts';

// Four passes ask for every mount's path: each mount's answer is kept, per home folder.
const known = new WeakMap<MountStatement, { home: string; path: string | undefined }>();

export function usableMountPath(mount: MountStatement, home: string): string | undefined {
  const hit = known.get(mount);
  if (hit?.home === home) return hit.path;
  const path = usable(mount.path.value, home);
  known.set(mount, { home, path });
  return path;
}

function usable(written: string, home: string): string | undefined {
  if (written === '' || /[:,\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(written) || CLIMBS.test(written)) return undefined;
  const expanded = expandHome(written, home);
  return expanded.ok ? expanded.path : undefined;
}

/** A ".." segment anywhere in the path. */
export const CLIMBS = /(^|\/)\.\.(\/|$)/;
