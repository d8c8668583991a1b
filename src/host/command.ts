// A command line as data: what the plan builders produce and what tests compare as strings.

export interface Cmd {
  file: string;
  args: readonly string[];
  /** Bytes fed to the command's stdin (e.g. the anchor for `pfctl -f -`). */
  input?: string;
  /** How to show `input` in a plan, e.g. "anchor.pf"; the bytes themselves are never printed. */
  inputName?: string;
  /** How long it may take, from what it does (e.g. `tart ip --wait N`: N s and a margin). */
  timeoutMs?: number;
  /** Run it in a session of its own, without the caller's terminal (as tart starts softnet). */
  noTerminal?: boolean;
}

// Builds a command from a program and its arguments.
export function cmd(file: string, ...args: string[]): Cmd {
  return { file, args };
}

// Prefixes a command with `sudo -n` (never prompt: enforce runs unattended, under launchd too).
export function sudo(c: Cmd): Cmd {
  return { ...c, file: 'sudo', args: ['-n', c.file, ...c.args] };
}

// Quotes one word for a POSIX shell, leaving plainly safe words alone.
export function shQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./<>-]+$/.test(word) && !/^[<>]|[<>]$/.test(word)) return word;
  if (/^<[a-z0-9_-]+>$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

// Renders a command as one shell line, the way a person would paste it.
export function formatCommand(c: Cmd): string {
  const line = [c.file, ...c.args].map(shQuote).join(' ');
  return c.input !== undefined || c.inputName !== undefined ? `${line} < ${c.inputName ?? '<stdin>'}` : line;
}
