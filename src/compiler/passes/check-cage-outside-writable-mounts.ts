// The policy file and the compiled artifacts lie outside every folder the VM may write: a VM that
// could rewrite them could rewrite its own cage. (enforce repeats this with symlinks resolved.)

import { errorAt, type Diagnostic } from '../diagnostic.ts';
import { mounts, type CheckContext } from '../check-context.ts';
import { isWithin } from '../paths/expand-home.ts';
import { usableMountPath } from '../paths/usable-mount-path.ts';

export function checkCageOutsideWritableMounts({ ast, home, policyPath, outputDir }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const mount of mounts(ast)) {
    if (mount.mode.value !== 'rw') continue;
    const path = usableMountPath(mount, home);
    if (path === undefined) continue;
    const hint = 'Keep the policy and the compiled files outside every "rw" mount, e.g. in ~/.config/nanopolicy/, or make this mount "ro".';
    if (isWithin(policyPath, path)) {
      out.push(
        errorAt(ast.file, mount.path.span, {
          code: 'NP249',
          message: `This policy file lies inside the read-write mount "${mount.name.value}": the VM could rewrite its own cage.`,
          hint,
        }),
      );
    }
    if (outputDir !== undefined && isWithin(outputDir, path)) {
      out.push(
        errorAt(ast.file, mount.path.span, {
          code: 'NP249',
          message: `The output folder "${outputDir}" lies inside the read-write mount "${mount.name.value}": the VM could rewrite its own cage.`,
          hint,
        }),
      );
    }
  }
  return out;
}
