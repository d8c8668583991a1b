// The values of compile's options, judged before anything is read or written: each bad one is a
// usage error (exit 64) with one line saying what to write instead.

import { accessSync, constants, statSync } from 'node:fs';
import { posix } from 'node:path';
import { UsageError } from './usage-error.ts';

const CONTROL = /[\u0000-\u001f\u007f]/;

// Groups that hold every local account (or everyone) on macOS: sudoers lines for them would let any
// user, not just the owner, load rules into the VM's anchor.
const BROAD_GROUPS = new Set(['everyone', 'staff', 'localaccounts', 'users', 'netaccounts', 'authedusers', 'interactusers', 'consoleusers', 'network']);

// An absolute path that can be written into the artifacts as it is.
export function checkAbsolutePath(flag: string, value: string, why: string): void {
  if (value === '') throw new UsageError(`${flag} needs a path, not an empty string.`);
  if (CONTROL.test(value)) throw new UsageError(`${flag} holds a control character; give a plain path.`);
  if (!value.startsWith('/')) throw new UsageError(`${flag} must be an absolute path (${why}), not "${value}".`);
  if (value.split('/').includes('..')) throw new UsageError(`${flag} must not climb with "..": write the folder it means, not "${value}".`);
  if (posix.normalize(value) !== value && `${posix.normalize(value)}/` !== value) {
    throw new UsageError(`${flag} must be written plainly (no "//" or "/./"), as in "${posix.normalize(value)}".`);
  }
}

// A program the boot job will run: a regular file (after links) this user may execute.
export function checkExecutable(flag: string, path: string): void {
  let info;
  try {
    info = statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`${flag} "${path}" ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? 'error'})`}; name the installed nanopolicy, as "command -v nanopolicy" prints it.`);
  }
  if (!info.isFile()) throw new UsageError(`${flag} "${path}" is not a file; name the installed nanopolicy, as "command -v nanopolicy" prints it.`);
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new UsageError(`${flag} "${path}" is not executable; name the installed nanopolicy, as "command -v nanopolicy" prints it.`);
  }
}

// The -o folder: any path, but a real one.
export function checkOutputOption(value: string): void {
  if (value === '') throw new UsageError('-o needs a folder, not an empty string.');
  if (CONTROL.test(value)) throw new UsageError('-o holds a control character; give a plain folder path.');
}

// Who the sudoers lines are for: one user or one group, never everyone.
export function checkSudoUser(value: string): void {
  if (!/^%?[A-Za-z_][A-Za-z0-9_.-]*$/.test(value)) {
    throw new UsageError(`--sudo-user takes a user name or %group, not "${value}".`);
  }
  const name = value.replace(/^%/, '');
  // sudoers reads ALL as everyone and an all-caps word as a User_Alias defined elsewhere.
  if (name === 'ALL' || /^[A-Z][A-Z0-9_]*$/.test(name)) {
    throw new UsageError(`--sudo-user "${value}" is a sudoers keyword or alias, which could mean every user; name one user or group, as in "%admin" or "alice".`);
  }
  if (value.startsWith('%') && BROAD_GROUPS.has(name.toLowerCase())) {
    throw new UsageError(`--sudo-user "${value}" holds every local user; name the owner or "%admin".`);
  }
}

// The user the LaunchDaemon runs as must not be root: its PATH starts with Homebrew folders the
// owner can write, so a root daemon would run whatever the owner (or the VM, through them) put there.
export function checkDaemonUser(user: string): void {
  if (user === 'root' || user === '') {
    throw new UsageError(
      "compile would make the boot job a root LaunchDaemon, which runs node from folders the owner can write; compile as the VM's owner without sudo, or pass --user NAME --home /Users/NAME.",
    );
  }
}
