import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parsePolicy } from '../../src/grammar/parse-policy.ts';

test('parses a vm line', () => {
  const { ast, diagnostics } = parsePolicy('vm a\n', 'x.policy');
  assert.equal(diagnostics, []);
  assert.is(ast.statements.length, 1);
});
test.run();
