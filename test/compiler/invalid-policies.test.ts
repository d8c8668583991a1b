// Every invalid fixture fails with exactly the diagnostics written beside it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compilePolicy } from '../../src/compiler/compile.ts';
import { formatDiagnostics } from '../../src/diagnostics/format-diagnostics.ts';
import { expectGolden } from '../helpers/golden.ts';
import { FIXTURE_CWD, FIXTURE_HOME } from '../helpers/fixture-host.ts';

const dir = join(import.meta.dirname, '../fixtures/invalid');
const cases = readdirSync(dir).filter((f) => f.endsWith('.policy')).sort();

test('there are at least 25 invalid fixtures', () => {
  assert.ok(cases.length >= 25, `only ${cases.length}`);
});

for (const name of cases) {
  test(`invalid: ${name}`, () => {
    const file = `test/fixtures/invalid/${name}`;
    const source = readFileSync(join(dir, name), 'utf8');
    const outcome = compilePolicy({ file, source, home: FIXTURE_HOME, cwd: FIXTURE_CWD });
    assert.ok(outcome.diagnostics.some((d) => d.severity === 'error'), 'expected at least one error');
    assert.is(outcome.policy, undefined);
    const text = formatDiagnostics(outcome.diagnostics, { sources: new Map([[file, source]]), color: false });
    expectGolden(join(dir, name.replace(/\.policy$/, '.expected')), text);
  });
}

test.run();
