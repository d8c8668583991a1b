// Where the proxy reads a secret on the host when it starts: the policy's `secret … from …`, as
// the compiler lowers it and the proxy config carries it (never the value).

export type SecretSource =
  | { kind: 'keychain'; service: string }
  /** Run without a shell; the program's path is looked up in PATH. */
  | { kind: 'command'; argv: readonly string[] }
  /** Absolute, `~` expanded. */
  | { kind: 'file'; path: string };

