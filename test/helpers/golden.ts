// Compares text with a golden file and fails with a unified diff; UPDATE_GOLDEN=1 rewrites it.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { createTwoFilesPatch } from 'diff';

export function expectGolden(path: string, actual: string): void {
  const update = process.env.UPDATE_GOLDEN === '1';
  if (update || !existsSync(path)) {
    if (!update && process.env.CI) throw new Error(`golden file ${relative(process.cwd(), path)} is missing (run with UPDATE_GOLDEN=1)`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  const expected = readFileSync(path, 'utf8');
  if (expected === actual) return;
  const name = relative(process.cwd(), path);
  const patch = createTwoFilesPatch(`${name} (expected)`, `${name} (actual)`, expected, actual, '', '', { context: 3 });
  throw new Error(`${name} differs from the golden file (UPDATE_GOLDEN=1 rewrites it):\n${patch}`);
}
