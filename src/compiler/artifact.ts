// One file `compile` writes: name relative to the output directory, exact bytes, file mode.

export interface Artifact {
  /** e.g. "anchor.pf", "tart-run.sh". */
  name: string;
  content: string;
  /** 0o755 for scripts, 0o644 otherwise. */
  mode: number;
  /** One line for the summary and `--json`: what the file is for. */
  description: string;
}
