// scripts/build.js changes peggy's output in four places (the whitespace rule and `$` texts use a
// shared empty array; character classes test ASCII through a table; literals are compared with
// startsWith), and parse-policy.ts parses a whole file silently. Property tests hold the shipped parser to peggy's own, generated here from the
// same grammar unchanged: the same tree or the same error (message, place, expectations) for
// random lines and files built from the grammar's pieces, hostile characters and plain noise.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import peggy from 'peggy';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse as shipped } from '../../src/grammar/generated/parser.js';

const t = suite('parser patches');
const seed = Number(process.env.FUZZ_SEED ?? 20261127);
const runs = { seed, numRuns: 2500 };
const grammar = readFileSync(join(import.meta.dirname, '../../src/grammar/policy.peggy'), 'utf8');
const reference = peggy.generate(grammar, { allowedStartRules: ['Line', 'Lines'], grammarSource: 'src/grammar/policy.peggy' });

type Outcome = { ok: true; value: unknown } | { ok: false; message: string; location: unknown; expected: unknown; found: unknown };
function outcome(parse: (text: string, options: object) => unknown, text: string, options: object): Outcome {
  try {
    // As data: each parser has its own token class, so the trees are compared field by field.
    return { ok: true, value: JSON.parse(JSON.stringify(parse(text, options))) };
  } catch (e) {
    const error = e as { message: string; location: unknown; expected: unknown; found: unknown };
    return { ok: false, message: error.message, location: error.location, expected: error.expected, found: error.found };
  }
}

const word = fc.constantFrom(
  'vm', 'network', 'softnet', 'subnet', 'gateway', 'allow', 'mount', 'proxy', 'egress', 'snapshot', 'keep', 'via', 'tls',
  'max-conn', 'pin', 'allow-sensitive', 'ro', 'rw', 'vmx', 'tlsx', 'sha256/AAAA=', '10.0.0.1:443', '[fe80::1]:80', 'host.test:8443',
  '192.168.64.0/24', '~/a/b', '"~/a b/c"', '"unterminated', '"bad\\q"', '"esc\\"q\\\\"', '18443', '0', '65536', 'x', 'Café', '\u202e', '\u00a0',
  '#', '# comment', 'api.anthropic.com', '*.example.test:443', '[', ']', ':', '\t', '  ',
);
const noise = fc.string({ unit: fc.constantFrom('a', 'Z', '0', '.', '-', '_', '/', ':', '"', '\\', '#', '[', ']', ' ', '\t', 'é', '\u{1F600}', '\u0000', '\r') , maxLength: 12 });
const line = fc.array(fc.oneof({ weight: 4, arbitrary: word }, { weight: 1, arbitrary: noise }), { maxLength: 8 }).map((parts) => parts.join(' '));
const file = fc.array(line, { maxLength: 12 }).map((lines) => lines.join('\n'));

t('one line: the shipped parser and peggy\'s own give the same tree or the same error', () => {
  fc.assert(
    fc.property(line, (text) => {
      const options = { startRule: 'Line', grammarSource: 'p.policy' };
      assert.equal(outcome(shipped, text, options), outcome(reference.parse, text, options));
    }),
    runs,
  );
});

t('a whole file, silent as parse-policy.ts runs it: the same tree, or an error where peggy errs', () => {
  fc.assert(
    fc.property(file, (text) => {
      const mine = outcome(shipped, text, { startRule: 'Lines', grammarSource: 'p.policy', peg$silentFails: 1 });
      const theirs = outcome(reference.parse, text, { startRule: 'Lines', grammarSource: 'p.policy' });
      assert.is(mine.ok, theirs.ok, text);
      if (mine.ok && theirs.ok) assert.equal(mine.value, theirs.value);
    }),
    { ...runs, numRuns: 800 },
  );
});

t('the bundled policy parses to the same tree', () => {
  const text = readFileSync(join(import.meta.dirname, '../../policy/nanoclaw.policy'), 'utf8');
  const options = { startRule: 'Lines', grammarSource: 'policy/nanoclaw.policy' };
  assert.equal(outcome(shipped, text, options), outcome(reference.parse, text, options));
});


// Spans are computed from offsets (policy.peggy's spanAt): every token's span must cover exactly
// the text it was read from, on its own line, in files of many lines.
t('every token span covers exactly its text, on its line', () => {
  const statement = fc.oneof(
    fc.tuple(fc.constantFrom('m1', 'data', 'x-2'), fc.constantFrom('~/a', '/b/c', '"~/with space"', '"q\\"uote"'), fc.constantFrom('ro', 'rw')).map(([n, p, m]) => `mount ${n}  ${p}\t${m}`),
    fc.tuple(fc.constantFrom('vault', 'ha'), fc.constantFrom('host.test:443', '10.0.0.1:80', '[2001:db8::1]:8443'), fc.integer({ min: 1, max: 65535 })).map(([n, t, p]) => `allow ${n} ${t} via ${p} tls max-conn 4`),
    fc.constantFrom('vm nanoclaw-vm', 'network softnet subnet 192.168.64.0/24 gateway 192.168.64.1', 'egress claude api.anthropic.com x.test:8443', 'proxy via 13128 max-conn 9', 'snapshot keep 3'),
  );
  const lines = fc.array(fc.oneof(statement, fc.constantFrom('', '# note', '   ')), { minLength: 1, maxLength: 30 });
  fc.assert(
    fc.property(lines, (list) => {
      const text = list.join('\n');
      const tree = outcome(shipped, text, { startRule: 'Lines', grammarSource: 'p.policy', peg$silentFails: 1 });
      assert.ok(tree.ok, text);
      const check = (node: unknown): void => {
        if (node === null || typeof node !== 'object') return;
        if (Array.isArray(node)) return node.forEach(check);
        const n = node as { value?: unknown; span?: { line: number; column: number; endColumn: number } };
        if (typeof n.value === 'string' && n.span) {
          const raw = list[n.span.line - 1]!.slice(n.span.column - 1, n.span.endColumn - 1);
          assert.is(raw.startsWith('"') ? JSON.parse(raw) : raw, n.value, `line ${n.span.line}: ${list[n.span.line - 1]}`);
        }
        for (const value of Object.values(n)) check(value);
      };
      check(tree.ok ? tree.value : undefined);
    }),
    { ...runs, numRuns: 400 },
  );
});

t.run();
