// Prints diagnostics for a person on stderr, coloured only where that is wanted.

import { formatDiagnostics } from '../diagnostics/format-diagnostics.ts';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import { useColor, type Io } from './io.ts';

export function reportDiagnostics(io: Io, diagnostics: readonly Diagnostic[], file: string, source: string | undefined): void {
  if (diagnostics.length === 0) return;
  const sources = new Map(source === undefined ? [] : [[file.replace(/\\/g, '/'), source]]);
  io.stderr.write(formatDiagnostics(diagnostics, { sources, color: useColor(io.stderr, io.env) }));
}
