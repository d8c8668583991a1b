// Runs every test/**/*.test.ts with uvu and ends with the line CI reads: "N passed, N failed".
// uvu's own summary has no such line, and a suite whose `before` hook throws reports no failure
// at all, so each suite's counts are tallied here: a test that did not pass and was not skipped failed.
//
//   node --import tsx test/run.ts [FILTER]   runs the files whose path contains FILTER

import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

type SuiteResult = [errors: string | true, passed: number, skipped: number, total: number];
type QueuedSuite = () => Promise<SuiteResult>;

const root = join(import.meta.dirname, '..');
const filter = process.argv[2];
const files = findTests(join(root, 'test')).filter((f) => !filter || f.includes(filter));

const g = globalThis as unknown as { UVU_DEFER: number; UVU_QUEUE: Array<Array<string | QueuedSuite>>; UVU_INDEX: number };
g.UVU_DEFER = 1;
g.UVU_QUEUE = [];
const uvu = await import('uvu');

let passed = 0;
let failed = 0;
let skipped = 0;
let index = 0;
for (const file of files) {
  g.UVU_INDEX = index++;
  g.UVU_QUEUE.push([relative(root, file)]);
  try {
    await import(pathToFileURL(file).href);
  } catch (error) {
    failed++;
    process.stdout.write(`\n✘ ${relative(root, file)} failed to load: ${(error as Error).stack ?? error}\n`);
  }
}
for (const group of g.UVU_QUEUE) {
  for (let i = 1; i < group.length; i++) {
    const suite = group[i] as QueuedSuite;
    group[i] = async () => {
      const result = await suite();
      const [, ran, skip, total] = result;
      passed += ran;
      skipped += skip;
      failed += Math.max(0, total - ran);
      return result;
    };
  }
}
await uvu.exec(false);
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (name === 'fixtures' || name === 'node_modules') continue;
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}
