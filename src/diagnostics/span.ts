// Where a piece of policy text stands: what the grammar gives every node and every diagnostic points at.

/** Columns are 1-based; `endColumn` is exclusive. A statement never spans lines. */
export interface Span {
  line: number;
  column: number;
  endColumn: number;
}
