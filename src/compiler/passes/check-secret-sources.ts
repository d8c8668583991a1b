// A secret's source can be read without a shell and without the VM: a command is a plain argument
// list, a file is absolute, outside every share, a regular file of the owner's that no one else may
// read. (The proxy checks the file again when it reads it: this is the early, located report.)

import { errorAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { mounts, secrets, type CheckContext } from '../check-context.ts';
import { expandHome, isWithin } from '../paths/expand-home.ts';
import { splitCommand } from '../secrets/split-command.ts';
import { mountPaths } from '../paths/usable-mount-path.ts';

export function checkSecretSources({ ast, home, realPath, fileFacts }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const list = secrets(ast);
  if (list.length === 0) return out;
  const shares = mounts(ast);
  const sharePaths = mountPaths(ast, home).path;
  for (const secret of list) {
    const { value } = secret;
    const name = secret.name.value;
    if (secret.source.value === 'command') {
      const split = splitCommand(value.value);
      if (!split.ok) {
        const column = value.span.column + 1 + split.offset;
        out.push(errorAt(ast.file, { line: value.span.line, column, endColumn: column + 1 }, {
          code: 'NP295',
          message: `The command for the secret "${name}" holds "${JSON.stringify(split.character).slice(1, -1)}", which needs a shell; the proxy runs commands without one.`,
          hint: 'Put the pipeline in a script of its own (outside every share, 0700) and name the script here.',
        }));
      } else if (split.argv.length === 0) {
        out.push(errorAt(ast.file, value.span, {
          code: 'NP295',
          message: `The command for the secret "${name}" is empty.`,
          hint: 'Name a program that prints the secret, as in "bw get password discord".',
        }));
      }
      continue;
    }
    if (secret.source.value !== 'file') continue;
    const expanded = expandHome(value.value, home);
    if (!expanded.ok || value.value.split('/').includes('..')) {
      out.push(errorAt(ast.file, value.span, {
        code: 'NP293',
        message: `The secret file "${value.value}" is not an absolute path of the owner's${expanded.ok ? ' (it holds "..")' : ''}.`,
        hint: 'Write it from "/" or "~/" without "..", as in "~/.config/nanopolicy/lab.secret".',
      }));
      continue;
    }
    const forms = [...new Set([expanded.path, realPath(expanded.path)])];
    for (let i = 0; i < shares.length; i++) {
      const share = sharePaths[i];
      if (share === undefined) continue;
      const inside = forms.find((form) => isWithin(form, share) || isWithin(form, realPath(share)));
      if (inside === undefined) continue;
      out.push(errorAt(ast.file, value.span, {
        code: 'NP293',
        message: `The secret file "${value.value}" lies inside the mount "${shares[i]!.name.value}": the VM could read it.`,
        hint: 'Keep secret files outside every mount, e.g. in ~/.config/nanopolicy/.',
      }));
      break;
    }
    const fact = fileFacts?.stat(expanded.path);
    if (!fileFacts || !fact) continue;
    const problem = !fact.regular
      ? 'is not a regular file'
      : fact.uid !== fileFacts.ownerUid
        ? `belongs to uid ${fact.uid}, not to the owner (uid ${fileFacts.ownerUid})`
        : (fact.mode & 0o077) !== 0
          ? `has mode ${fact.mode.toString(8).padStart(4, '0')}: others may read or change it`
          : undefined;
    if (problem) {
      out.push(errorAt(ast.file, value.span, {
        code: 'NP294',
        message: `The secret file "${value.value}" ${problem}.`,
        hint: `Make it the owner's alone: chown "$USER" ${expanded.path} && chmod 600 ${expanded.path}`,
      }));
    }
  }
  return out;
}
