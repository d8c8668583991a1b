// The commands guest install and guest check run in the VM, as data (argv and stdin), each a small
// POSIX sh script so that the same command runs in a macOS guest through `tart exec` and in the
// lab's VM namespace. Paths below the guest user's home are given relative and joined to $HOME in
// the guest: the host does not know that home. Exit 3 means "absent" wherever a script says so.

import type { GuestFile, GuestPath } from './guest-plan.ts';

export interface GuestCommand {
  /** What it does, for --dry-run and reports. */
  what: string;
  argv: string[];
  /** Bytes for its stdin (a file's new content). */
  input?: string;
  /** How --dry-run names the input: its bytes are shown apart, never inside the command line. */
  inputName?: string;
}

/** A script's exit code for "the file (or program) is not there". */
export const ABSENT = 3;

// Resolves $1 (absolute, or relative to $HOME) into $f.
const PATH_OF = 'case $1 in /*) f=$1 ;; *) f=$HOME/$1 ;; esac';

export function pathArg(path: GuestPath): string {
  return 'absolute' in path ? path.absolute : path.home;
}

export function shownPath(path: GuestPath): string {
  return 'absolute' in path ? path.absolute : `~/${path.home}`;
}

// The guest's system, user id and Node version ("none" without Node): the first command, so a
// guest that cannot be reached is known before anything is read or written.
export function probeCommand(): GuestCommand {
  return { what: 'ask the guest for its system, user and Node version', argv: ['sh', '-c', 'uname -s; id -u; if command -v node >/dev/null 2>&1; then node --version; else echo none; fi'] };
}

export function readCommand(file: GuestFile): GuestCommand {
  return { what: `read ${shownPath(file.path)}`, argv: ['sh', '-c', `${PATH_OF}; [ -e "$f" ] || exit ${ABSENT}; cat -- "$f"`, 'sh', pathArg(file.path)] };
}

// Writes a file's whole new text. A user's file goes to a temporary name and is renamed into
// place (never half-written); a root file (/etc/hosts) is read whole from stdin first, then copied
// over the old one in place (in the lab it is a bind mount, which a rename cannot replace), through
// `sudo -n` unless the guest user is root already.
export function writeCommand(file: GuestFile, text: string): GuestCommand {
  const shown = shownPath(file.path);
  if (file.root) {
    const script = `${PATH_OF}; t=$(mktemp) || exit 1; if ! cat > "$t"; then rm -f "$t"; exit 1; fi; if [ "$(id -u)" = 0 ]; then cat "$t" > "$f"; r=$?; else sudo -n sh -c 'cat "$1" > "$2"' sh "$t" "$f"; r=$?; fi; rm -f "$t"; exit $r`;
    return { what: `write ${shown} (as root)`, argv: ['sh', '-c', script, 'sh', pathArg(file.path)], input: text, inputName: `<new ${shown}>` };
  }
  const mode = 'whole' in file.content ? file.content.mode : '0644';
  const script = `${PATH_OF}; mkdir -p "$(dirname "$f")" && t="$f.nanopolicy-tmp" && cat > "$t" && chmod $2 "$t" && mv -f "$t" "$f"`;
  return { what: `write ${shown}`, argv: ['sh', '-c', script, 'sh', pathArg(file.path), mode], input: text, inputName: `<new ${shown}>` };
}

// (Re)loads the LaunchAgent into the logged-in user's launchd domain; exit 3 without launchctl
// (not a macOS guest).
export function loadAgentCommand(label: string, file: GuestFile): GuestCommand {
  const script = `command -v launchctl >/dev/null 2>&1 || exit ${ABSENT}; u=$(id -u); launchctl bootout "gui/$u/$1" >/dev/null 2>&1; launchctl bootstrap "gui/$u" "$HOME/$2"`;
  return { what: `load the LaunchAgent ${label}`, argv: ['sh', '-c', script, 'sh', label, pathArg(file.path)] };
}

// Whether the LaunchAgent is loaded; exit 3 without launchctl.
export function agentLoadedCommand(label: string): GuestCommand {
  return { what: `ask launchd whether ${label} is loaded`, argv: ['sh', '-c', `command -v launchctl >/dev/null 2>&1 || exit ${ABSENT}; launchctl print "gui/$(id -u)/$1" >/dev/null`, 'sh', label] };
}
