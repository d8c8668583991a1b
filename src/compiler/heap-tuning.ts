// The heap, for a big policy. A check is one short burst in which nearly everything allocated
// survives: the syntax tree and every pass's paths. V8 grows the young generation when most of it
// survives a scavenge, as a long-running program would want; here growing only moves allocation
// into fresh memory (page faults, cache misses) while the copying stays the same: each survivor is
// copied once or twice whatever the size. Kept at its first size, the young generation stays in
// the CPU's cache, and 10,000 statements check 15–30 ms sooner on the 2-core test machine, though
// the collector runs more often (issue 9; docs/performance.md).
//
// Only the CLI's own process opts in (bin/nanopolicy.js), for check and compile: a library
// caller's heap, a test runner's, is its own, and after a flag is set at run time Node compiles
// each built-in it loads without its code cache (enforce and verify load many later). Only for a
// policy of BIG_POLICY_BYTES or more, and only on the V8 majors known to have the flag: on
// another, setFlagsFromString would print "unrecognized flag".

import { createRequire } from 'node:module';

/** ~1,500 lines: below this the young generation never needs to grow anyway. */
export const BIG_POLICY_BYTES = 64 * 1024;
const V8_MAJORS = { min: 10, max: 13 };

let allowed = false;
let applied = false;

/** Called once by bin/nanopolicy.js, the process's entry point. */
export function allowHeapTuning(): void {
  allowed = true;
}

/** Keeps the young generation at its first size when a policy this big is about to be parsed. */
export function tuneHeapForPolicy(bytes: number, env: NodeJS.ProcessEnv = process.env): void {
  if (!allowed || applied || bytes < BIG_POLICY_BYTES) return;
  const major = Number(process.versions.v8.split('.')[0]);
  if (!(major >= V8_MAJORS.min && major <= V8_MAJORS.max)) return;
  applied = true;
  const v8 = createRequire(import.meta.url)('node:v8') as typeof import('node:v8');
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  if (env.NANOPOLICY_DEBUG) process.stderr.write(`nanopolicy: young generation kept at its first size (a policy of ${Math.round(bytes / 1024)} KiB)\n`);
}
