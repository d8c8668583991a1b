// The nanopolicy CLI as a process, for tests that start it (in a lab namespace, or to follow it).
// When the build is newer than every source (as in `npm test`, which builds first), that is
// bin/nanopolicy.js: the bundle users run, started from its V8 code cache (~70 ms less CPU per
// start than a fresh bundle, and the lab suites start the CLI ~80 times). Otherwise, say in a
// subset run after an edit, it is test/verify/run-cli.ts bundled from src/ by esbuild once per test
// process, so every start runs the sources as they are now; tsx would transpile and resolve
// through loader hooks on every start (~0.7 s of CPU each).
// That bundle is written into dist/, beside probe.cjs and proxy.js, where the CLI finds them
// (run-inside.ts, proxy-step.ts: "next to the CLI bundle"), as dist/cli.cjs does; dependencies stay
// external, loaded from node_modules as under tsx. It is removed when this process exits.

import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const ROOT = join(import.meta.dirname, '../..');
let bundled: Promise<string> | undefined;

/** The arguments after `node` that run the CLI from the current sources: `[...await cliArgs(), 'verify', …]`. */
export async function cliArgs(): Promise<string[]> {
  bundled ??= builtIsCurrent() ? Promise.resolve(join(ROOT, 'bin/nanopolicy.js')) : bundle();
  return [await bundled];
}

// True when dist/cli.cjs and dist/vendor.cjs are newer than everything they are built from.
function builtIsCurrent(): boolean {
  let built: number;
  try {
    built = Math.min(...['dist/cli.cjs', 'dist/vendor.cjs'].map((f) => statSync(join(ROOT, f)).mtimeMs));
  } catch {
    return false;
  }
  const newest = Math.max(newestIn(join(ROOT, 'src')), ...['package.json', 'scripts/build.js', 'bin/nanopolicy.js'].map((f) => statSync(join(ROOT, f)).mtimeMs));
  return built > newest;
}

function newestIn(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestIn(path) : statSync(path).mtimeMs);
  }
  return newest;
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
