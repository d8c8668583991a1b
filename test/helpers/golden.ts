// Golden files: compare a whole output with the file beside the test, print a unified diff on a
// mismatch, and rewrite the file instead when UPDATE_GOLDEN=1.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { createTwoFilesPatch } from 'diff';

const root = new URL('../..', import.meta.url).pathname;

// Throws with a unified diff when `actual` differs from the golden file at `path` (absolute).
export function expectGolden(path: string, actual: string): void {
  if (process.env['UPDATE_GOLDEN'] === '1') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  const name = relative(root, path);
  if (!existsSync(path)) {
    throw new Error(`golden file ${name} is missing; run with UPDATE_GOLDEN=1 to write it`);
  }
  const expected = readFileSync(path, 'utf8');
  if (expected === actual) return;
  const patch = createTwoFilesPatch(`${name} (golden)`, `${name} (actual)`, expected, actual, '', '', { context: 3 });
  throw new Error(`output differs from golden file ${name} (UPDATE_GOLDEN=1 rewrites it):\n${patch}`);
}
