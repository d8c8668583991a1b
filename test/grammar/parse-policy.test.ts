import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parsePolicy } from '../../src/grammar/parse-policy.ts';
import type { AllowStatement, Located, MountStatement } from '../../src/grammar/ast.ts';

const token = ({ value, span }: Located) => ({ value, span: { line: span.line, column: span.column, endColumn: span.endColumn } });

test('the core language parses, with columns for every piece', () => {
  const { ast, diagnostics } = parsePolicy('vm nanoclaw-vm\nallow vaultwarden   bitwarden.cstrube.de:443 via 18443 tls\n', 'p');
  assert.equal(diagnostics, []);
  const allow = ast.statements[1] as AllowStatement;
  assert.is(allow.kind, 'allow');
  assert.equal(token(allow.target.host), { value: 'bitwarden.cstrube.de', span: { line: 2, column: 21, endColumn: 41 } });
  assert.equal(token(allow.port), { value: '18443', span: { line: 2, column: 50, endColumn: 55 } });
  assert.equal(allow.options.map((o) => o.key.value), ['tls']);
});

test('quoted paths resolve \\" and \\\\ and keep spaces', () => {
  const { ast, diagnostics } = parsePolicy('mount notes "/Users/o/My \\"Notes\\" \\\\ x" ro\n', 'p');
  assert.equal(diagnostics, []);
  assert.is((ast.statements[0] as MountStatement).path.value, '/Users/o/My "Notes" \\ x');
});

test('a quoted path reads back as the text it escapes, whatever mix of quotes, backslashes and spaces', () => {
  const text = fc.string({ unit: fc.constantFrom('a', '/', ' ', '"', '\\', '#', '\t', 'é', '~', ':'), maxLength: 24 });
  fc.assert(
    fc.property(text, (path) => {
      const written = path.replace(/["\\]/g, (c) => `\\${c}`);
      const { ast, diagnostics } = parsePolicy(`mount m "${written}" ro\n`, 'p');
      assert.equal(diagnostics, []);
      const token = (ast.statements[0] as MountStatement).path;
      assert.is(token.value, path);
      // The span covers the quotes: the text as written.
      assert.is(token.span.endColumn - token.span.column, written.length + 2);
    }),
    { seed: Number(process.env.FUZZ_SEED ?? 20261127), numRuns: 2000 },
  );
});

test('comments anywhere, blank lines, CRLF line ends and tabs', () => {
  const source = '# head\r\n\r\n\tvm a   # trailing\r\nmount x ~/x ro#tight\r\n';
  const { ast, diagnostics } = parsePolicy(source, 'p');
  assert.equal(diagnostics, []);
  assert.equal(ast.statements.map((s) => [s.kind, s.span.line]), [['vm', 3], ['mount', 4]]);
});

test('bracketed IPv6 targets keep the address without brackets', () => {
  const { ast } = parsePolicy('allow v6 [2001:db8::5]:443 via 18443 tls max-conn 4 pin sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=', 'p');
  const allow = ast.statements[0] as AllowStatement;
  assert.is(allow.target.bracketed, true);
  assert.is(allow.target.host.value, '2001:db8::5');
  assert.equal(allow.options.map((o) => [o.key.value, o.value?.value]), [
    ['tls', undefined],
    ['max-conn', '4'],
    ['pin', 'sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='],
  ]);
});

test('keywords do not run on into longer words', () => {
  const { diagnostics } = parsePolicy('allow a h:1 via 2 tlsx\nvmx a\nmount a /b rox', 'p');
  assert.equal(diagnostics.map((d) => [d.line, d.column]), [[1, 19], [2, 1], [3, 12]]);
});

test('every bad line is reported, in order, and good lines still parse', () => {
  const { ast, diagnostics } = parsePolicy('vm a\nallow x h: via 1\nmount m /x rw\nnetwork bogus\n', 'p');
  assert.equal(diagnostics.map((d) => d.line), [2, 4]);
  assert.equal(ast.statements.map((s) => s.kind), ['vm', 'mount']);
  // Parsed alone, each good line still carries its own line number, on the statement and every token.
  const mount = ast.statements[1] as MountStatement;
  assert.equal([mount.span.line, mount.name.span.line, mount.path.span.line, mount.mode.span.line], [3, 3, 3, 3]);
  assert.equal(token(mount.mode), { value: 'rw', span: { line: 3, column: 12, endColumn: 14 } });
});

test('the mount mode is required', () => {
  const { diagnostics } = parsePolicy('mount groups ~/nanoclaw/groups', 'p');
  assert.match(diagnostics[0]!.message, /mount mode/);
});



test('a byte-order mark before the first line is ignored', () => {
  const { ast, diagnostics } = parsePolicy('\uFEFFvm bom-vm\n', 'p');
  assert.equal(diagnostics, []);
  assert.is(ast.statements[0]!.kind, 'vm');
});
test.run();
