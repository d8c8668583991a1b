// The sudoers file enforce needs is installed, and is exactly what compile writes for this policy:
// an older file (from before a policy change) allows other pfctl commands than enforce runs. Read
// directly when this user may (root); else through `sudo -n -l`, which lists the rules that apply
// to the user without a password as long as one of them is NOPASSWD (sudoers' listpw=any).

import { readFileSync } from 'node:fs';
import type { CommandRunner } from '../host/command-runner.ts';
import { cmd } from '../host/command.ts';
import type { DoctorRow } from './doctor-row.ts';

export function installedSudoersPath(vm: string): string {
  return `/etc/sudoers.d/nanopolicy-${vm}`;
}

export async function sudoersRow(vm: string, compiled: string, runner: CommandRunner, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): Promise<DoctorRow> {
  const path = installedSudoersPath(vm);
  const what = `sudoers installed (${path}) and equal to what compile writes`;
  const install = `nanopolicy compile POLICY -o OUT, then: sudo visudo -c -f OUT/sudoers && sudo install -m 0440 -o root -g wheel OUT/sudoers ${path}`;
  let text: string | undefined;
  try {
    text = readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { id: 'sudoers', what, status: 'fail', detail: `${path} does not exist`, fix: install };
    if (code !== 'EACCES' && code !== 'EPERM') return { id: 'sudoers', what, status: 'unknown', detail: `${path} could not be read (${code ?? 'error'})`, fix: `sudo diff ${path} OUT/sudoers` };
  }
  if (text !== undefined) {
    return text === compiled ? { id: 'sudoers', what, status: 'ok', detail: 'installed, byte for byte as compiled' } : { id: 'sudoers', what, status: 'fail', detail: `${path} differs from what compile writes for this policy`, fix: install };
  }
  // Not readable (root:wheel 0440): ask sudo which rules apply, and look for every compiled command.
  const r = await runner.run({ ...cmd('sudo', '-n', '-l'), noTerminal: true });
  if (r.exitCode !== 0) return { id: 'sudoers', what, status: 'unknown', detail: `${path} is readable by root only, and "sudo -n -l" needs a password`, fix: `sudo diff ${path} OUT/sudoers` };
  const norm = (s: string) => s.replace(/\s+/g, ' ').trim();
  const listed = norm(r.stdout);
  // Every command the file allows: the values of its Cmnd_Alias lines, and what follows NOPASSWD:
  // where that is a command, not an alias's name. (How a real Mac's sudo -l prints escapes such
  // as "vm_if\=" is not recorded here; a mismatch there reads as missing, never as ok.)
  const commands = compiled
    .split('\n')
    .flatMap((l) => {
      if (/^Cmnd_Alias\s/.test(l)) return l.replace(/^Cmnd_Alias\s+\S+\s*=\s*/, '').split(/,\s*(?=\/)/);
      const m = /NOPASSWD:\s*(\/.*)$/.exec(l);
      return m ? [m[1]!] : [];
    })
    .map(norm)
    .filter((c) => c !== '');
  const missing = commands.filter((c) => !listed.includes(c));
  if (commands.length === 0) return { id: 'sudoers', what, status: 'unknown', detail: 'the compiled sudoers lists no command to look for', fix: `sudo diff ${path} OUT/sudoers` };
  return missing.length === 0
    ? { id: 'sudoers', what, status: 'ok', detail: `"sudo -n -l" lists all ${commands.length} compiled commands` }
    : { id: 'sudoers', what, status: 'fail', detail: `"sudo -n -l" lacks ${missing.length} of the ${commands.length} compiled commands, e.g. "${missing[0]}"`, fix: install };
}
