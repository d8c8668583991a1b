// The policy file and the compiled artifacts lie outside every folder the VM may write: a VM that
// could rewrite them could rewrite its own cage. Each path is compared as written and as it really
// leads on this host (symlinks resolved), since "-o ~/out" with ~/out a symlink into a share writes
// the sudoers lines where the VM can edit them. (enforce repeats this before it applies anything.)

import { errorAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { mounts, type CheckContext } from '../check-context.ts';
import { foldedWithin } from '../paths/expand-home.ts';
import { foldPath } from '../paths/fold-path.ts';
import { mountPaths } from '../paths/usable-mount-path.ts';

export function checkCageOutsideWritableMounts({ ast, home, policyPath, outputDir, realPath }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  // Each path as written and where it really leads, folded once (issue 9: not once per mount).
  const forms = (path: string) => {
    const real = realPath(path);
    return (real === path ? [path] : [path, real]).map((form) => ({ path: form, folded: foldPath(form) }));
  };
  const policyForms = forms(policyPath);
  const outputForms = outputDir === undefined ? [] : forms(outputDir);
  const list = mounts(ast);
  const paths = mountPaths(ast, home);
  for (let i = 0; i < list.length; i++) {
    const mount = list[i]!;
    if (mount.mode.value !== 'rw') continue;
    const path = paths.path[i];
    if (path === undefined) continue;
    const shareFolded = paths.folded[i]!;
    const real = realPath(path);
    const realFolded = real === path ? undefined : foldPath(real);
    const hint = 'Keep the policy and the compiled files outside every "rw" mount, e.g. in ~/.config/nanopolicy/, or make this mount "ro".';
    const policyInside = firstInside(policyForms, shareFolded, realFolded);
    if (policyInside !== undefined) {
      out.push(
        errorAt(ast.file, mount.path.span, {
          code: 'NP249',
          message: `This policy file lies inside the read-write mount "${mount.name.value}"${via(policyInside, policyPath)}: the VM could rewrite its own cage.`,
          hint,
        }),
      );
    }
    const outputInside = firstInside(outputForms, shareFolded, realFolded);
    if (outputDir !== undefined && outputInside !== undefined) {
      out.push(
        errorAt(ast.file, mount.path.span, {
          code: 'NP249',
          message: `The output folder "${outputDir}" lies inside the read-write mount "${mount.name.value}"${via(outputInside, outputDir)}: the VM could rewrite its own cage.`,
          hint,
        }),
      );
    }
  }
  return out;
}

// The first of a path's forms that lies inside a share, as written or where it really leads; no
// closure made per mount (issue 9: a policy may hold thousands of "rw" mounts).
function firstInside(forms: ReadonlyArray<{ path: string; folded: string }>, shareFolded: string, realFolded: string | undefined): string | undefined {
  for (let i = 0; i < forms.length; i++) {
    const { path, folded } = forms[i]!;
    if (foldedWithin(folded, shareFolded) || (realFolded !== undefined && foldedWithin(folded, realFolded))) return path;
  }
  return undefined;
}

// Says where a path really leads when only its real path is inside.
function via(real: string, written: string): string {
  return real === written ? '' : ` (it leads to "${real}")`;
}
