// No folder is shared twice, whole or in part: one mount inside another gives the inner folder
// the outer one's mode, whatever its own line says.

import { errorAt, type Diagnostic } from '../diagnostic.ts';
import { mounts, type CheckContext } from '../check-context.ts';
import { isWithin } from '../paths/expand-home.ts';
import { usableMountPath } from '../paths/usable-mount-path.ts';

export function checkNestedMounts({ ast, home }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen: Array<{ name: string; path: string; line: number; mode: string }> = [];
  for (const mount of mounts(ast)) {
    const path = usableMountPath(mount, home);
    if (path === undefined) continue;
    for (const earlier of seen) {
      const relation =
        path === earlier.path ? 'the same folder as' : isWithin(path, earlier.path) ? 'inside' : isWithin(earlier.path, path) ? 'around' : undefined;
      if (!relation) continue;
      out.push(
        errorAt(ast.file, mount.path.span, {
          code: 'NP248',
          message: `The mount "${mount.name.value}" shares ${relation} the mount "${earlier.name}" on line ${earlier.line} ("${earlier.path}").`,
          hint:
            relation === 'the same folder as'
              ? 'Share each folder once.'
              : 'Share folders that do not contain each other; otherwise the VM reaches the inner folder with the outer mount\'s mode.',
        }),
      );
      break;
    }
    seen.push({ name: mount.name.value, path, line: mount.span.line, mode: mount.mode.value });
  }
  return out;
}
