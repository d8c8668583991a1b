// Every valid fixture (and the bundled policy) compiles to exactly the artifacts stored beside it.
// A mismatch prints a unified diff; UPDATE_GOLDEN=1 rewrites the goldens.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compilePolicy } from '../../src/compiler/compile.ts';
import { emitArtifacts } from '../../src/compiler/emit/index.ts';
import { formatDiagnostics } from '../../src/diagnostics/format-diagnostics.ts';
import { expectGolden } from '../helpers/golden.ts';
import { FIXTURE_CWD, FIXTURE_HOME } from '../helpers/fixture-host.ts';

const root = join(import.meta.dirname, '../..');
const dir = join(root, 'test/fixtures/valid');
const cases: Array<{ name: string; file: string }> = [
  { name: 'bundled', file: 'policy/nanoclaw.policy' },
  ...readdirSync(dir)
    .filter((f) => f.endsWith('.policy'))
    .sort()
    .map((f) => ({ name: f.replace(/\.policy$/, ''), file: `test/fixtures/valid/${f}` })),
];

test('there are at least 8 valid fixtures', () => {
  assert.ok(cases.length >= 8, `only ${cases.length}`);
});

for (const { name, file } of cases) {
  test(`valid: ${name}`, () => {
    const source = readFileSync(join(root, file), 'utf8');
    const outcome = compilePolicy({ file, source, home: FIXTURE_HOME, cwd: FIXTURE_CWD });
    const text = formatDiagnostics(outcome.diagnostics, { sources: new Map([[file, source]]), color: false });
    assert.ok(outcome.policy, `expected no errors, got:\n${text}`);
    const goldenDir = join(dir, name);
    expectGolden(join(goldenDir, 'diagnostics.txt'), text);
    const artifacts = emitArtifacts(outcome.policy);
    for (const artifact of artifacts) expectGolden(join(goldenDir, artifact.name), artifact.content);
    if (existsSync(goldenDir)) {
      const expected = readdirSync(goldenDir).filter((f) => f !== 'diagnostics.txt').sort();
      assert.equal(artifacts.map((a) => a.name).sort(), expected, 'artifact set differs from the golden folder');
    }
    // Same policy, same bytes.
    const again = emitArtifacts(compilePolicy({ file, source, home: FIXTURE_HOME, cwd: FIXTURE_CWD }).policy!);
    assert.equal(again, artifacts);
  });
}

test.run();
