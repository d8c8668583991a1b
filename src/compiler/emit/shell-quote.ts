// Quoting for POSIX sh: a word comes back unchanged when it holds only characters sh never
// interprets, otherwise single-quoted (the one quoting in which nothing is special).

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

// One word, ready to paste into a sh command line.
export function shellQuote(word: string): string {
  if (SAFE.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

// A whole argv as one sh command line.
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
