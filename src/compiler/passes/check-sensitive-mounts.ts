// No mount shares the root, the home folder (or a folder above it), or a folder NanoClaw counts as
// secret (.ssh, .aws, .env …), unless its line says "allow-sensitive".

import { errorAt, warningAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { findOption, mounts, type CheckContext } from '../check-context.ts';
import { foldedWithin } from '../paths/expand-home.ts';
import { foldPath } from '../paths/fold-path.ts';
import { mountPaths } from '../paths/usable-mount-path.ts';
import { sensitiveSegment } from '../paths/sensitive-patterns.ts';

const ACK = 'If you really mean to show it to the VM, add "allow-sensitive" at the end of the line.';

export function checkSensitiveMounts({ ast, home, realPath }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  // The home folder's two forms, folded once for every mount (issue 9).
  const homeFolded = foldPath(home);
  const realHome = realPath(home);
  const realHomeFolded = realHome === home ? homeFolded : foldPath(realHome);
  const list = mounts(ast);
  const paths = mountPaths(ast, home);
  for (let i = 0; i < list.length; i++) {
    const mount = list[i]!;
    const path = paths.path[i];
    if (path === undefined) continue;
    const acknowledged = findOption(mount, 'allow-sensitive');
    const name = mount.name.value;
    let problem: { code: string; message: string; hint: string } | undefined;
    // A harmless-looking name may be a symlink to ~/.ssh: judge where it really leads, too.
    const real = realPath(path);
    const leads = real === path ? '' : ` (it leads to "${real}")`;
    const folded = paths.folded[i]!;
    const realFolded = real === path ? folded : foldPath(real);
    const match = sensitiveSegment(path, folded) ?? (real === path ? undefined : sensitiveSegment(real, realFolded));
    if (path === '/' || real === '/') {
      problem = { code: 'NP245', message: `The mount "${name}" shares the whole disk ("/").`, hint: `Share only the folders the assistant needs. ${ACK}` };
    } else if (foldedWithin(homeFolded, folded) || foldedWithin(realHomeFolded, realFolded)) {
      const what = (path === home ? 'your home folder itself' : `"${path}", which holds your home folder`) + leads;
      problem = {
        code: 'NP246',
        message: `The mount "${name}" shares ${what}, with your keys, mail and browser profiles in it.`,
        hint: `Share a folder inside it, as in "~/nanoclaw/groups". ${ACK}`,
      };
    } else if (match) {
      problem = {
        code: 'NP247',
        message: `The mount "${name}" shares "${match.segment}"${leads}, which matches the sensitive pattern "${match.pattern}".`,
        hint: `Secrets reach the VM through the Vaultwarden bridge, not a share. ${ACK}`,
      };
    }
    if (problem && !acknowledged) out.push(errorAt(ast.file, mount.path.span, problem));
    if (!problem && acknowledged) {
      out.push(
        warningAt(ast.file, acknowledged.key.span, {
          code: 'NP251',
          message: `The mount "${name}" says "allow-sensitive" but shares nothing sensitive.`,
          hint: 'Drop "allow-sensitive", so it stands out where it is really needed.',
        }),
      );
    }
  }
  return out;
}
