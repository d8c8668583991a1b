// The one shape every problem nanopolicy reports takes, from the parser to the verifier.

import type { Span } from './span.ts';

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  severity: Severity;
  /** Stable: NP1xx syntax, NP2xx meaning, NP3xx target limits, NP4xx files and environment. */
  code: string;
  /** One sentence, names in quotes. */
  message: string;
  file: string;
  line: number;
  column: number;
  /** Exclusive; the caret run under the source line covers column..endColumn. */
  endColumn?: number;
  /** What to write instead. */
  hint?: string;
  notes?: string[];
}

export interface DiagnosticInput {
  code: string;
  message: string;
  hint?: string;
  notes?: string[];
}

// Builds an error at a span of a file.
export function errorAt(file: string, span: Span, d: DiagnosticInput): Diagnostic {
  return at('error', file, span, d);
}

// Builds a warning at a span of a file.
export function warningAt(file: string, span: Span, d: DiagnosticInput): Diagnostic {
  return at('warning', file, span, d);
}

function at(severity: Severity, file: string, span: Span, d: DiagnosticInput): Diagnostic {
  const out: Diagnostic = {
    severity,
    code: d.code,
    message: d.message,
    file,
    line: span.line,
    column: span.column,
    endColumn: span.endColumn,
  };
  if (d.hint !== undefined) out.hint = d.hint;
  if (d.notes !== undefined && d.notes.length > 0) out.notes = d.notes;
  return out;
}

// Orders diagnostics by position, then code, so output is stable whatever order passes ran in.
export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort(
    (a, b) =>
      a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.code.localeCompare(b.code),
  );
}

export function hasErrors(list: readonly Diagnostic[]): boolean {
  return list.some((d) => d.severity === 'error');
}
