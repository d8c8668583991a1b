// The nanopolicy CLI as a process, for tests that start it (in a lab namespace, or to follow it):
// test/verify/run-cli.ts bundled from src/ by esbuild once per test process, so every start runs
// the sources as they are now, as `node --import tsx run-cli.ts` did. tsx transpiles and resolves
// through loader hooks on every start (~0.7 s of CPU on the 2-core test machine, and the lab suites
// start the CLI ~60 times); the bundle starts in ~0.15 s.
// It is written into dist/, beside probe.cjs and proxy.js, where the CLI finds them (run-inside.ts,
// proxy-step.ts: "next to the CLI bundle"), as dist/cli.cjs does; dependencies stay external, loaded
// from node_modules as under tsx. It is removed when this process exits.

import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const ROOT = join(import.meta.dirname, '../..');
let bundled: Promise<string> | undefined;

/** The arguments after `node` that run the CLI from the current sources: `[...await cliArgs(), 'verify', …]`. */
export async function cliArgs(): Promise<string[]> {
  bundled ??= bundle();
  return [await bundled];
}

async function bundle(): Promise<string> {
  const outfile = join(ROOT, 'dist', `.test-cli-${process.pid}.mjs`);
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  process.once('exit', () => rmSync(outfile, { force: true }));
  await build({
    entryPoints: [join(ROOT, 'test/verify/run-cli.ts')],
    outfile, // this process's own file: nobody else writes it
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    logLevel: 'warning',
  });
  return outfile;
}
