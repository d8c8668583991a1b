// The proxy's name rules take shortcuts (issue 9: a compile runs them on every egress host): the
// last label found in place, and one regex for names that pass every label rule. Property tests
// hold them to the plain code they replaced, on random, hostile and name-shaped text.

import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { invalidHostName, looksLikeIpLiteral, normaliseName } from '../../src/net/host-name.ts';

const t = suite('host-name shortcuts');
const runs = { seed: Number(process.env.FUZZ_SEED ?? 20261127), numRuns: 5000 };

// The plain code: every label split out.
function plainLooksLikeIp(text: string): boolean {
  if (text.includes(':') || text.includes('[') || text.includes(']')) return true;
  const labels = text.split('.');
  if (labels.length > 1 && labels.at(-1) === '') labels.pop();
  return /^(\d+|0x[0-9a-f]*)$/i.test(labels.at(-1) ?? '');
}
function plainInvalid(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (plainLooksLikeIp(name)) return 'it is an IP address, not a name';
  if (name.length > 253) return 'it is longer than 253 characters';
  const labels = name.split('.');
  if (labels.length < 2) return 'it has a single label; write a full name such as "api.example.com"';
  for (const label of labels) {
    if (label.length === 0) return 'it has an empty label (two dots in a row, or a dot at an end)';
    if (label.length > 63) return 'a label is longer than 63 characters';
    if (!/^[a-z0-9-]+$/.test(label)) return 'bad character';
    if (label.startsWith('-') || label.endsWith('-')) return 'dash';
  }
  return undefined;
}
// The shipped messages for a bad character and a dash name the label; the plain ones above only
// say which rule failed, so those two are compared by their rule.
const rule = (why: string | undefined) => (why?.includes('holds a character') ? 'bad character' : why?.includes('starts or ends with') ? 'dash' : why);

const label = fc.oneof(
  fc.constantFrom('', 'a', 'z9', 'a-b', '-a', 'a-', '-', '0', '00', '127', '0x7f', '0x', '0X1F', 'xn--caf-dma', 'API', 'é', '_', '*', '%25', ' '),
  fc.stringMatching(/^[a-z0-9-]{1,8}$/),
  fc.string({ unit: fc.constantFrom('a', 'Z', '0', '9', '-', 'x', '.', ':', '[', ']', '\u00e9', '\u0000'), maxLength: 6 }),
  fc.constantFrom('a'.repeat(63), 'b'.repeat(64)),
);
const name = fc.oneof(
  fc.array(label, { minLength: 1, maxLength: 6 }).chain((labels) => fc.constantFrom('', '.', '..').map((end) => labels.join('.') + end)),
  fc.array(fc.constantFrom('abcdefghij'.repeat(6), 'x'), { minLength: 1, maxLength: 6 }).map((labels) => labels.join('.')),
  fc.string({ maxLength: 20 }),
);

t('normaliseName gives what lowercasing every name gives, copy or not', () => {
  const plain = (text: string) => text.toLowerCase().replace(/\.$/, '');
  const mixed = fc.oneof(name, fc.string({ unit: fc.constantFrom('a', 'Z', '.', '\u00c9', '\u0130', '\u212a', 'ß', '-'), maxLength: 12 }));
  fc.assert(fc.property(mixed, (text) => assert.is(normaliseName(text), plain(text), JSON.stringify(text))), runs);
});

t('looksLikeIpLiteral answers what the label-splitting code answers', () => {
  fc.assert(fc.property(name, (text) => looksLikeIpLiteral(text) === plainLooksLikeIp(text)), runs);
});

t('invalidHostName fails the same names, for the same rule, as the label-by-label code', () => {
  fc.assert(fc.property(name, (text) => assert.is(rule(invalidHostName(text)), plainInvalid(text), JSON.stringify(text))), runs);
});

t('the length edges: 253 characters pass, 254 do not; 63-character labels pass, 64 do not', () => {
  const at = (n: number) => `${'a'.repeat(60)}.`.repeat(4) + 'b'.repeat(n - 248) + '.com';
  assert.is(at(253).length, 253);
  assert.is(invalidHostName(at(253)), undefined);
  assert.is(invalidHostName(at(254)), 'it is longer than 253 characters');
  assert.is(invalidHostName(`${'a'.repeat(63)}.com`), undefined);
  assert.is(invalidHostName(`${'a'.repeat(64)}.com`), 'a label is longer than 63 characters');
  assert.is(invalidHostName('0x7f.1'), 'it is an IP address, not a name');
  assert.is(invalidHostName('example.1'), 'it is an IP address, not a name');
});

t.run();
