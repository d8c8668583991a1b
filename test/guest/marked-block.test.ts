// The marked block in a file the owner shares with nanopolicy: property tests over random owner
// text (with hostile lines that nearly look like markers) — one block after any number of
// installs, nothing outside it changed, and broken markers refused rather than guessed at.

import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { blockMarkers, readMarkedBlock, replaceMarkedBlock } from '../../src/guest/marked-block.ts';

const t = suite('marked block');
const SEED = Number(process.env.FUZZ_SEED ?? 20261207);
const runs = { seed: SEED, numRuns: 500 };
const M = blockMarkers('nanopolicy vm');
const OTHER = blockMarkers('nanopolicy other-vm');
// Owner lines: anything but our own markers, with near misses and the other VM's markers mixed in.
const ownerLine = fc.oneof(
  fc.string({ maxLength: 30 }).filter((s) => !s.includes('\n') && s !== M.begin && s !== M.end),
  fc.constantFrom('127.0.0.1 localhost', '', '# comment', `${M.begin} `, ` ${M.end}`, M.begin.toUpperCase(), OTHER.begin, OTHER.end, '\r'),
);
const ownerText = fc.array(ownerLine, { maxLength: 12 }).map((lines) => lines.map((l) => `${l}\n`).join(''));
const blockLines = fc.array(fc.string({ maxLength: 20 }).filter((s) => !s.includes('\n') && s !== M.begin && s !== M.end), { maxLength: 5 });

const withoutBlock = (text: string) => {
  const lines = text.split('\n');
  const start = lines.indexOf(M.begin);
  const end = lines.indexOf(M.end);
  return start < 0 ? text : [...lines.slice(0, start), ...lines.slice(end + 1)].join('\n');
};

t('one block after any number of installs, with the last lines; the owner\'s text is untouched', () => {
  fc.assert(
    fc.property(ownerText, blockLines, blockLines, (text, a, b) => {
      const first = replaceMarkedBlock(text, M, a);
      assert.ok(first.ok);
      if (!first.ok) return;
      const second = replaceMarkedBlock(first.text, M, b);
      assert.ok(second.ok);
      if (!second.ok) return;
      const read = readMarkedBlock(second.text, M);
      assert.ok(read.ok && read.count === 1);
      if (read.ok) assert.equal(read.lines, b);
      // Installing the same lines again changes nothing.
      const again = replaceMarkedBlock(second.text, M, b);
      assert.ok(again.ok && !again.changed && again.text === second.text);
      // Outside the block, the owner's text as it was (a missing final newline is the one addition).
      const normalized = text === '' || text.endsWith('\n') ? text : `${text}\n`;
      assert.is(withoutBlock(second.text), normalized);
      // The other VM's block is the owner's text to this one.
      assert.is(second.text.split(OTHER.begin).length, text.split(OTHER.begin).length);
    }),
    runs,
  );
});

t('two blocks (an append done twice by hand) become one, in the first one\'s place', () => {
  const text = `a\n${M.begin}\nold 1\n${M.end}\nb\n${M.begin}\nold 2\n${M.end}\nc\n`;
  const r = replaceMarkedBlock(text, M, ['new']);
  assert.ok(r.ok);
  if (r.ok) assert.is(r.text, `a\n${M.begin}\nnew\n${M.end}\nb\nc\n`);
  assert.equal(readMarkedBlock(text, M), { ok: true, lines: ['old 1'], count: 2 });
});

t('broken markers are refused, never guessed at', () => {
  for (const text of [`${M.begin}\nx\n`, `x\n${M.end}\n`, `${M.begin}\n${M.begin}\n${M.end}\n`]) {
    const r = replaceMarkedBlock(text, M, ['new']);
    assert.is(r.ok, false, text);
    assert.is(readMarkedBlock(text, M).ok, false);
  }
  assert.equal(replaceMarkedBlock('', M, []), { ok: true, text: `${M.begin}\n${M.end}\n`, changed: true });
});

t.run();
