// The absolute path a mount line shares, or undefined when check-mount-paths refuses its path
// (later passes then stay quiet about it rather than pile on).

import type { MountStatement } from '../../grammar/ast.ts';
import { expandHome } from './expand-home.ts';

export function usableMountPath(mount: MountStatement, home: string): string | undefined {
  const written = mount.path.value;
  if (written === '' || /[:,\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(written) || written.split('/').includes('..')) return undefined;
  const expanded = expandHome(written, home);
  return expanded.ok ? expanded.path : undefined;
}
