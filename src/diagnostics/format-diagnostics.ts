// Prints diagnostics rustc-style: the message, the place, the source line with carets, the hint.

import { colors } from '../colors.ts';
import type { Diagnostic } from './diagnostic.ts';
import { splitLines } from './split-lines.ts';

export interface FormatOptions {
  /** Source text by file name, for the snippet; a file not given gets no snippet. */
  sources: ReadonlyMap<string, string>;
  color: boolean;
}

// Renders one diagnostic as lines of text ending in a newline.
export function formatDiagnostic(d: Diagnostic, options: FormatOptions): string {
  return formatOne(d, options.color, lineOf(indexSources(options.sources), d));
}

// Renders one diagnostic whose source line (if any) is already looked up.
function formatOne(d: Diagnostic, color: boolean, sourceText: string | undefined): string {
  const c = colors(color);
  const paint = d.severity === 'error' ? c.red : c.yellow;
  const out: string[] = [`${c.bold(paint(`${d.severity}[${d.code}]`))}${c.bold(`: ${inert(d.message)}`)}`];
  const lineText = sourceText === undefined ? undefined : inert(sourceText.replace(/\s+$/, ''));
  const gutter = ' '.repeat(String(d.line).length);
  out.push(`${gutter}${c.blue('-->')} ${d.file}:${d.line}:${d.column}`);
  if (lineText !== undefined) {
    const width = Math.max(1, (d.endColumn ?? d.column + 1) - d.column);
    // Tabs are printed as one space each, so the carets line up column for column.
    const pad = ' '.repeat(Math.max(0, d.column - 1));
    out.push(`${gutter} ${c.blue('|')}`);
    out.push(`${c.blue(String(d.line))} ${c.blue('|')} ${lineText.replace(/\t/g, ' ')}`);
    out.push(`${gutter} ${c.blue('|')} ${pad}${paint('^'.repeat(width))}`);
  }
  if (d.hint) out.push(`${gutter} ${c.blue('=')} ${c.bold('hint')}: ${inert(d.hint)}`);
  for (const note of d.notes ?? []) out.push(`${gutter} ${c.blue('=')} ${c.bold('note')}: ${inert(note)}`);
  return `${out.join('\n')}\n`;
}

// Renders a list and a closing count ("2 errors, 1 warning"), or nothing for an empty list.
export function formatDiagnostics(list: readonly Diagnostic[], options: FormatOptions): string {
  if (list.length === 0) return '';
  const errors = list.filter((d) => d.severity === 'error').length;
  const warnings = list.length - errors;
  const parts = [];
  if (errors) parts.push(`${errors} error${errors === 1 ? '' : 's'}`);
  if (warnings) parts.push(`${warnings} warning${warnings === 1 ? '' : 's'}`);
  // Each source is split once, however many diagnostics point into it.
  const index = indexSources(options.sources);
  return `${list.map((d) => formatOne(d, options.color, lineOf(index, d))).join('\n')}\n${parts.join(', ')}\n`;
}

// Text from the policy reaches a terminal: control characters (an escape sequence could rewrite
// or hide lines) and bidirectional overrides become U+FFFD, one character each so carets still line up.
function inert(text: string): string {
  return text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '\ufffd');
}

// Each source's line starts, found once, however many diagnostics point into it: a diagnostic
// slices out its own line, so one warning about a 10,000-line policy does not make 10,000 strings
// (issue 9). A source with a "\r" is split as the parser split it.
export type LineIndex = { text: string; starts: number[] } | { lines: string[] };

function indexSources(sources: ReadonlyMap<string, string>): Map<string, () => LineIndex> {
  const index = new Map<string, () => LineIndex>();
  for (const [file, text] of sources) {
    let made: LineIndex | undefined;
    index.set(file, () => (made ??= lineIndex(text)));
  }
  return index;
}

export function lineIndex(text: string): LineIndex {
  if (text.includes('\r')) return { lines: splitLines(text) };
  const starts = [0];
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) starts.push(at + 1);
  return { text, starts };
}

function lineOf(index: ReadonlyMap<string, () => LineIndex>, d: Diagnostic): string | undefined {
  const source = index.get(d.file)?.();
  return source === undefined ? undefined : lineFromIndex(source, d.line);
}

/** Line `line` (1-based) of an indexed source, as splitLines(text)[line - 1] gives it. */
export function lineFromIndex(source: LineIndex, line: number): string | undefined {
  if (!(line >= 1)) return undefined;
  if ('lines' in source) return source.lines[line - 1];
  const start = source.starts[line - 1];
  if (start === undefined) return undefined;
  const next = source.starts[line];
  return source.text.slice(start, next === undefined ? source.text.length : next - 1);
}
