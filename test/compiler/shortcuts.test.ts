// The compiler's shortcuts for big policies (issue 9), held to the plain code they replace on
// random and hostile text: the diagnostics' line index against splitLines, and foldPath's
// already-folded path against the full fold. Seeded by FUZZ_SEED, bounded in runs.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { formatDiagnostics, lineFromIndex, lineIndex } from '../../src/diagnostics/format-diagnostics.ts';
import { foldPath } from '../../src/compiler/paths/fold-path.ts';
import { splitLines } from '../../src/diagnostics/split-lines.ts';
import type { Diagnostic } from '../../src/diagnostics/diagnostic.ts';

const seed = Number(process.env['FUZZ_SEED'] ?? 20261127);
const t = suite(`compiler shortcuts (FUZZ_SEED=${seed})`);
const runs = { seed, numRuns: 3000 };

// Text made of line ends of every kind, blanks and a few characters, so most lines are short.
const text = fc.string({ unit: fc.constantFrom('a', 'é', ' ', '\t', '\n', '\n', '\r', '\r\n', '#'), maxLength: 40 });

t('a line from the index is the line splitLines gives, for every line number and beyond', () => {
  fc.assert(
    fc.property(text, fc.integer({ min: -2, max: 45 }), (source, line) => {
      assert.is(lineFromIndex(lineIndex(source), line), line >= 1 ? splitLines(source)[line - 1] : undefined, JSON.stringify({ source, line }));
    }),
    runs,
  );
});

t('the snippet under a diagnostic is its own line of the source, at the first and the last line too', () => {
  const source = 'vm a\nallow x 192.0.2.10:1 via 2\nmount m /x ro';
  const at = (line: number): Diagnostic => ({ severity: 'error', code: 'NP999', message: 'm', file: 'p', line, column: 1, endColumn: 2 });
  const text = formatDiagnostics([at(1), at(3), at(4)], { sources: new Map([['p', source]]), color: false });
  assert.match(text, /1 \| vm a\n/);
  assert.match(text, /3 \| mount m \/x ro\n/);
  // Past the end there is no line to show, and none is made up.
  assert.not.match(text, /4 \|/);
});

// Paths as a Mac user writes them: mostly ASCII, some capitals, some accents in either form.
const path = fc.string({ unit: fc.constantFrom('/', 'a', 'z', 'A', 'Z', '.', '-', ' ', '@', '[', '`', '{', '\u00e9', 'e\u0301', '\u00c9', '\u212a', '\u0130'), maxLength: 24 });

t('foldPath of a path already folded returns it; every path folds as NFD, lower case, NFD', () => {
  fc.assert(
    fc.property(path, (p) => {
      assert.is(foldPath(p), p.normalize('NFD').toLowerCase().normalize('NFD'), JSON.stringify(p));
    }),
    runs,
  );
});

t.run();
