// Parses policy text into a syntax tree, one line at a time, collecting every line's syntax error.

import { parse, SyntaxError as PeggySyntaxError } from './generated/parser.js';
import type { PolicyAst, Statement } from './ast.ts';
import type { Diagnostic } from '../compiler/diagnostic.ts';
import { rewordSyntaxError } from './reword-syntax-error.ts';
import { splitLines } from './split-lines.ts';

export interface ParseResult {
  ast: PolicyAst;
  diagnostics: Diagnostic[];
}

// Each line is parsed alone: statements never span lines, and a bad line must not hide the rest.
export function parsePolicy(source: string, file: string): ParseResult {
  const statements: Statement[] = [];
  const diagnostics: Diagnostic[] = [];
  // A byte-order mark some editors write is not part of the first statement.
  const lines = splitLines(source.replace(/^\uFEFF/, ''));
  lines.forEach((text, index) => {
    const line = index + 1;
    try {
      const statement = parse(text, { startRule: 'Line', grammarSource: file }) as Statement | null;
      if (statement) statements.push(withLine(statement, line));
    } catch (error) {
      if (!(error instanceof PeggySyntaxError)) throw error;
      diagnostics.push(rewordSyntaxError(error, text, line, file));
    }
  });
  return { ast: { file, source, statements }, diagnostics };
}

// The parser sees one line, so it reports line 1: stamp the real line onto every span.
function withLine<T>(node: T, line: number): T {
  if (Array.isArray(node)) return node.map((item) => withLine(item, line)) as T;
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === 'span' ? { line, ...(value as object) } : withLine(value, line);
  }
  return out as T;
}
