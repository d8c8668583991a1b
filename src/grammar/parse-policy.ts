// Parses policy text into a syntax tree, one line at a time, collecting every line's syntax error.

import { parse, SyntaxError as PeggySyntaxError } from './generated/parser.js';
import type { PolicyAst, Statement } from './ast.ts';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import { rewordSyntaxError } from './reword-syntax-error.ts';
import { splitLines } from '../diagnostics/split-lines.ts';

export interface ParseResult {
  ast: PolicyAst;
  diagnostics: Diagnostic[];
}

// Statements never span lines, and a bad line must not hide the rest: a file that parses whole is
// read in one pass (one parser call, linear and cheap); otherwise each line is parsed alone, so every
// line's syntax error is reported.
export function parsePolicy(source: string, file: string): ParseResult {
  const statements: Statement[] = [];
  const diagnostics: Diagnostic[] = [];
  // A byte-order mark some editors write is not part of the first statement.
  const text = source.replace(/^\uFEFF/, '');
  try {
    // Line ends made "\n", so the parser's own line numbers are the lines splitLines counts (a
    // file without "\r" is parsed as it is: no copy of 10,000 lines to join again).
    const whole = text.includes('\r') ? splitLines(text).join('\n') : text;
    // Silent: this pass only asks "does the whole file parse?". peggy then skips collecting what it
    // expected at every position (an array per token, a quarter of the allocations on a big
    // file, issue 9); a file that fails is parsed again line by line, loudly, for its messages.
    const all = parse(whole, { startRule: 'Lines', grammarSource: file, peg$silentFails: 1 }) as Array<Statement | null>;
    return { ast: { file, source, statements: all.filter((s): s is Statement => s !== null) }, diagnostics };
  } catch (error) {
    if (!(error instanceof PeggySyntaxError)) throw error;
  }
  const options = { startRule: 'Line' as const, grammarSource: file };
  splitLines(text).forEach((text, index) => {
    const line = index + 1;
    try {
      const statement = parse(text, options) as Statement | null;
      if (statement) statements.push(withLine(statement, line));
    } catch (error) {
      if (!(error instanceof PeggySyntaxError)) throw error;
      diagnostics.push(rewordSyntaxError(error, text, line, file));
    }
  });
  return { ast: { file, source, statements }, diagnostics };
}

// The parser sees one line, so it reports line 1: stamp the real line onto every node with a
// place (statements, targets and tokens are their own spans; a `span` field is stamped too). The
// nodes are fresh from the parser, so they are stamped in place rather than copied.
function withLine<T>(node: T, line: number): T {
  stamp(node, line);
  return node;
}

function stamp(node: unknown, line: number): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const item of node) stamp(item, line);
    return;
  }
  for (const key in node) {
    const value = (node as Record<string, unknown>)[key];
    if (key === 'span') (value as { line: number }).line = line;
    else if (key === 'line') (node as { line: number }).line = line;
    else stamp(value, line);
  }
}
