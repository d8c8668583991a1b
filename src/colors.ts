// Terminal colours: picocolors, loaded only when colour is on. Loading picocolors reads
// process.stdout.isTTY, which makes Node build its stdout stream (the stream machinery, and
// node:net for a pipe): ~6 ms of a check's start-up (issue 9), for output that check writes
// straight to the descriptor (src/cli/fd-output.ts). Without colour every formatter is String,
// exactly what picocolors' own createColors(false) returns.

import { createRequire } from 'node:module';
import type picocolors from 'picocolors';

export type Colors = ReturnType<typeof picocolors.createColors>;

// The built CLI requires its own copy beside it (dist/picocolors.cjs, scripts/build.js): an
// installed nanopolicy has no packages of its own to require. From src/, the package.
declare const __NANOPOLICY_PICOCOLORS__: string | undefined;
const PICOCOLORS = typeof __NANOPOLICY_PICOCOLORS__ === 'string' ? __NANOPOLICY_PICOCOLORS__ : 'picocolors';

const PLAIN = new Proxy({} as Colors, { get: (_target, key) => (key === 'isColorSupported' ? false : String) });

/** Formatters that colour when `enabled`, and return their input as a string otherwise. */
export function colors(enabled: boolean): Colors {
  if (!enabled) return PLAIN;
  return (createRequire(import.meta.url)(PICOCOLORS) as typeof picocolors).createColors(true);
}
