// The key names a .env file holds — never a value: init's output and warnings may be pasted
// anywhere, and a secret printed once is a secret to rotate.

export function readEnvKeys(text: string): string[] {
  const keys = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line);
    if (m) keys.add(m[1]!);
  }
  return [...keys].sort();
}
