// Mount paths are absolute (or "~/…"), never climb with "..", and hold nothing tart's
// --dir NAME:PATH[:OPTIONS] parsing would split on.

import { errorAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { mounts, type CheckContext } from '../check-context.ts';
import { expandHome } from '../paths/expand-home.ts';
import { CLIMBS, mountPaths } from '../paths/usable-mount-path.ts';

export function checkMountPaths({ ast, home }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const list = mounts(ast);
  const usable = mountPaths(ast, home).path;
  for (let i = 0; i < list.length; i++) {
    // A path the later passes can use passed every check below; most do (issue 9: one lookup each).
    if (usable[i] !== undefined) continue;
    const mount = list[i]!;
    const written = mount.path.value;
    const error = (code: string, message: string, hint: string) => out.push(errorAt(ast.file, mount.path.span, { code, message, hint }));
    if (written === '') {
      error('NP243', `The mount "${mount.name.value}" has an empty path.`, 'Write the folder to share, as in "~/nanoclaw/groups".');
      continue;
    }
    const separator = /[:,]/.exec(written);
    if (separator) {
      error(
        'NP303',
        `The path "${written}" holds "${separator[0]}", which tart's --dir NAME:PATH[:OPTIONS] would read as a separator.`,
        'Rename the folder, or share a parent of it whose path has no ":" or ",".',
      );
      continue;
    }
    if (/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(written)) {
      error('NP244', `The path of the mount "${mount.name.value}" holds a control character (or a bidirectional override, which makes it read as another path).`, 'Rename the folder to a plain name.');
      continue;
    }
    if (CLIMBS.test(written)) {
      error(
        'NP241',
        `The path "${written}" climbs with "..", so what it shares is not plain from the policy.`,
        'Write the folder\'s path without "..".',
      );
      continue;
    }
    const expanded = expandHome(written, home);
    if (!expanded.ok && expanded.problem === 'other-user') {
      error('NP242', `The path "${written}" names another user's home, which nanopolicy does not expand.`, 'Write the absolute path, as in "/Users/NAME/…".');
    } else if (!expanded.ok) {
      error(
        'NP240',
        `The path "${written}" is relative; it would depend on where tart runs.`,
        `Write an absolute path or one under your home, as in "~/${written.replace(/^\.\//, '')}".`,
      );
    }
  }
  return out;
}
