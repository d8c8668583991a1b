// parseEgressHost and the public-suffix test attacked: every spelling of an address is refused,
// every valid name is accepted as written (lowercased), and no input makes the parser throw.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { parseEgressHost } from '../../../src/compiler/net/egress-host.ts';
import { publicSuffixKind } from '../../../src/net/public-suffix.ts';

const RUNS = { seed: 7, numRuns: 400, interruptAfterTimeLimit: 4000 };
const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,10}[a-z0-9])?$/);
const name = fc.array(label, { minLength: 2, maxLength: 4 }).map((l) => l.join('.'));

// The spellings inet_aton and WHATWG URL accept for one IPv4 address.
function spellings(n: number): string[] {
  const b = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return [
    b.join('.'),
    b.map((x) => `0x${x.toString(16)}`).join('.'),
    b.map((x) => `0${x.toString(8)}`).join('.'),
    String(n),
    `0x${n.toString(16)}`,
    `${b[0]}.${(n & 0xffffff) >>> 0}`,
    `${b[0]}.${b[1]}.${n & 0xffff}`,
    `${b.join('.')}.`,
    `[::ffff:${b.join('.')}]`,
    `::ffff:${b.join('.')}`,
  ];
}

test('every spelling of an IPv4 address is an IP literal (NP261), with or without a port', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.option(fc.integer({ min: 1, max: 65535 })), (n, port) => {
      for (const s of spellings(n)) {
        const r = parseEgressHost(port === null || s.includes('::') ? s : `${s}:${port}`);
        assert.ok(!r.ok && r.code === 'NP261', `${s} → ${JSON.stringify(r)}`);
      }
    }),
    RUNS,
  );
});

test('IPv6 literals, bracketed or not, with zones, are IP literals', () => {
  for (const s of ['::1', '[::1]', '[::1]:443', '2001:db8::5', 'fe80::1%en0', '[fe80::1%25en0]:443', '::', '[::]']) {
    const r = parseEgressHost(s);
    assert.ok(!r.ok && r.code === 'NP261', s);
  }
});

test('valid names are accepted lowercased, with port 443 unless given', () => {
  fc.assert(
    fc.property(name, fc.boolean(), fc.option(fc.integer({ min: 1, max: 65535 })), (n, upper, port) => {
      const written = (upper ? n.toUpperCase() : n) + (port === null ? '' : `:${port}`);
      const r = parseEgressHost(written);
      assert.ok(r.ok, `${written} → ${JSON.stringify(r)}`);
      if (r.ok) {
        assert.is(r.host, n);
        assert.is(r.port, port ?? 443);
        assert.is(r.wildcard, false);
      }
    }),
    RUNS,
  );
});

test('no input makes the parser throw, and a problem always lies inside the text', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (s) => {
      const r = parseEgressHost(s);
      if (!r.ok) {
        assert.ok(r.offset >= 0 && r.offset <= s.length, JSON.stringify(r));
        assert.ok(/^NP2\d\d$/.test(r.code));
      }
    }),
    RUNS,
  );
});

test('a wildcard keeps "*." and matches only below its suffix; "*" elsewhere is refused', () => {
  const r = parseEgressHost('*.Example.test');
  assert.ok(r.ok && r.host === '*.example.test' && r.wildcard);
  for (const s of ['*', '*.', '**.example.test', 'a*.example.test', 'api.*.example.test', '*.*.example.test']) {
    const bad = parseEgressHost(s);
    assert.ok(!bad.ok, s);
  }
});

test('public suffixes: ICANN ones (and unlisted TLDs) are errors, private ones warnings, registrable names neither', () => {
  for (const s of ['com', 'co.uk', 'test', 'uk', 'ck', 'foo.ck']) assert.is(publicSuffixKind(s), 'icann', s);
  for (const s of ['github.io', 'githubusercontent.com']) assert.is(publicSuffixKind(s), 'private', s);
  for (const s of ['anthropic.com', 'example.co.uk', 'lab.test', 'discordapp.com']) assert.is(publicSuffixKind(s), undefined, s);
});

test.run();
