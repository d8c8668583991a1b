// V8, for one big policy. A check is one short burst, and two of V8's defaults suit a long-running
// program instead (issue 9; docs/performance.md):
//
// - The young generation. Nearly everything a check allocates survives (the syntax tree, every
//   pass's paths). V8 grows the young generation when most of it survives; here growing only
//   moves allocation into fresh memory (page faults, cache misses) while the copying stays the
//   same: each survivor is copied once or twice whatever the size. Kept at its first size, it
//   stays in the CPU's cache, and 10,000 statements check 15–30 ms sooner on the 2-core test
//   machine, though the collector runs more often.
// - The optimising compiler. TurboFan compiles the parser's and the passes' hot functions on a
//   second thread: ~140 ms of CPU for a 10,000-statement check, more than the optimised code then
//   saves before the check ends. With one core free it is all on the critical path (one core:
//   406 → 266 ms); with two, the check is still 25–50 ms sooner without it. It pays for itself
//   from about 20,000 statements on two cores, so only policies below NO_TURBOFAN_MAX_BYTES go
//   without. Measured on V8 11 (Node 20) only: later V8s have Maglev, a fast middle tier this
//   machine cannot measure, so they keep their defaults.
//
// Only the CLI's own process opts in (bin/nanopolicy.js), for check and compile: a library
// caller's heap and JIT, a test runner's, are its own, and after a flag is set at run time Node
// compiles each built-in it loads without its code cache (enforce and verify load many later).
// Only for a policy of BIG_POLICY_BYTES or more, and only on V8 majors known to have each flag: on
// another, setFlagsFromString would print "unrecognized flag".

import { createRequire } from 'node:module';

/** ~1,500 lines: below this the young generation never needs to grow anyway. */
export const BIG_POLICY_BYTES = 64 * 1024;
/** ~20,000 statements: from here on TurboFan's compile pays for itself within one check. */
export const NO_TURBOFAN_MAX_BYTES = 640 * 1024;
const SEMI_SPACE_V8_MAJORS = { min: 10, max: 13 };
const NO_TURBOFAN_V8_MAJORS = { min: 11, max: 11 };

export interface V8Tuning {
  /** `--semi-space-growth-factor=1`: the young generation keeps its first size. */
  youngGenerationKept: boolean;
  /** `--no-turbofan`: no optimising compiler for the rest of this process. */
  noTurbofan: boolean;
}

/** What a policy of this many bytes gets on this V8 major (pure; tested). */
export function v8TuningFor(bytes: number, v8Major: number): V8Tuning {
  const big = bytes >= BIG_POLICY_BYTES;
  return {
    youngGenerationKept: big && v8Major >= SEMI_SPACE_V8_MAJORS.min && v8Major <= SEMI_SPACE_V8_MAJORS.max,
    noTurbofan: big && bytes < NO_TURBOFAN_MAX_BYTES && v8Major >= NO_TURBOFAN_V8_MAJORS.min && v8Major <= NO_TURBOFAN_V8_MAJORS.max,
  };
}

let allowed = false;
let applied = false;

/** Called once by bin/nanopolicy.js, the process's entry point. */
export function allowV8Tuning(): void {
  allowed = true;
}

/** Tunes V8 for a policy this big, about to be parsed; once per process, and only when allowed. */
export function tuneV8ForPolicy(bytes: number, env: NodeJS.ProcessEnv = process.env): void {
  if (!allowed || applied) return;
  const tuning = v8TuningFor(bytes, Number(process.versions.v8.split('.')[0]));
  if (!tuning.youngGenerationKept && !tuning.noTurbofan) return;
  applied = true;
  const v8 = createRequire(import.meta.url)('node:v8') as typeof import('node:v8');
  const size = `a policy of ${Math.round(bytes / 1024)} KiB`;
  if (tuning.youngGenerationKept) {
    v8.setFlagsFromString('--semi-space-growth-factor=1');
    if (env.NANOPOLICY_DEBUG) process.stderr.write(`nanopolicy: young generation kept at its first size (${size})\n`);
  }
  if (tuning.noTurbofan) {
    v8.setFlagsFromString('--no-turbofan');
    if (env.NANOPOLICY_DEBUG) process.stderr.write(`nanopolicy: no optimising compiler (TurboFan) for this check (${size})\n`);
  }
}
