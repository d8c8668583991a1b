// A `secret … from command "…"` line as an argument list: split on blanks and run without a shell.

export type CommandSplit = { ok: true; argv: string[] } | { ok: false; offset: number; character: string };

// Characters a shell would read as more than a word: a pipe, a redirect, a substitution, a glob,
// a quote or an escape. The proxy runs the command without a shell, so any of them would reach the
// program as a literal character: the owner meant something else, and we say so (why: running it
// through `sh -c` would make the policy a shell script the VM might get to write).
const SHELL_CHARS = /[|&;<>()$`\\"'*?[\]{}~!#\n]/;

// Splits on spaces and tabs; the first shell character is reported at its offset.
export function splitCommand(command: string): CommandSplit {
  const bad = SHELL_CHARS.exec(command);
  if (bad) return { ok: false, offset: bad.index, character: bad[0] };
  return { ok: true, argv: command.split(/[ \t]+/).filter((word) => word.length > 0) };
}
