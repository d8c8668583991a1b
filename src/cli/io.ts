// What a command may touch of the outside world: passed in, so tests capture it.

export interface Writable {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface Io {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  /** The absolute path this CLI was started as (argv[1]), when it was: the program a boot job runs. */
  program?: string;
}

/** Exit codes, the same for every command. */
export const EXIT = {
  ok: 0,
  /** The input is wrong: the policy cannot be read or has errors (every command), init's install
   * cannot be read or its output exists. */
  policy: 1,
  /** Checked, and something does not hold (verify, status, doctor). */
  verifyFailed: 2,
  /** enforce, rollback: a preflight or apply step failed; nothing is left changed. */
  enforceFailed: 3,
  /** enforce: a step failed and so did an undo; manual commands were printed. */
  undoFailed: 4,
  /** A program the command needs is missing, or could not be asked (EX_UNAVAILABLE). */
  unavailable: 69,
  /** The command line itself is wrong (EX_USAGE). */
  usage: 64,
  /** A bug or an unexpected environment failure; reported without a stack trace. */
  internal: 70,
} as const;

// Colour only on a TTY, and never when NO_COLOR is set (https://no-color.org).
export function useColor(stream: Writable, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}
