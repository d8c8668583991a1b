// The shares fit tart's command line. Every mount becomes one `--dir=NAME:PATH[:ro]` argument of
// `tart run`, and macOS refuses an exec whose arguments and environment together pass ARG_MAX
// (1 MiB, sys/syslimits.h; xnu counts each string with its NUL, and the argv/envp pointers): past
// it, `tart run` fails with E2BIG ("Argument list too long") when enforce starts the VM, after
// the rules are loaded, and the compile said nothing. tart hands the values through unchanged.

import { errorAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { mounts, type CheckContext } from '../check-context.ts';
import { mountPaths } from '../paths/usable-mount-path.ts';

/** macOS's ARG_MAX (sys/syslimits.h): argument and environment strings, and their pointers. */
export const MACOS_ARG_MAX = 1024 * 1024;
/**
 * What tart's arguments may take of it: half. The other half is for the environment of whoever
 * starts tart (a login shell's is a few KiB, launchd's less; a bloated one still fits) and what
 * tart-run.sh or enforce add to it. A policy near the bound has thousands of shares.
 */
export const TART_ARGV_BUDGET = MACOS_ARG_MAX / 2;
/** Each argument costs its bytes, its NUL and its 8-byte pointer in argv[]. */
const PER_ARGUMENT = 1 + 8;
/**
 * Everything but the shares: `tart run --no-graphics --no-clipboard --no-audio`, the two softnet
 * flags with the gateway, the VM's name and the program path, rounded up.
 */
const FIXED = 512;

// Every share's --dir argument, added up, stays within tart's half of ARG_MAX.
export function checkTartArgv({ ast, home }: CheckContext): Diagnostic[] {
  const list = mounts(ast);
  const paths = mountPaths(ast, home).path;
  let bytes = FIXED;
  for (let i = 0; i < list.length; i++) {
    const path = paths[i];
    // A refused path is reported by check-mount-paths; it never reaches tart.
    if (path === undefined) continue;
    const mount = list[i]!;
    const value = `--dir=${mount.name.value}:${path}${mount.mode.value === 'ro' ? ':ro' : ''}`;
    bytes += Buffer.byteLength(value) + PER_ARGUMENT;
    if (bytes > TART_ARGV_BUDGET) {
      return [
        errorAt(ast.file, mount.span, {
          code: 'NP305',
          message: `The mount "${mount.name.value}" is one too many: with it, the shares make tart's command line ${bytes} bytes, more than the ${TART_ARGV_BUDGET} nanopolicy allows (macOS refuses more than ${MACOS_ARG_MAX} bytes of arguments and environment together).`,
          hint: `Share fewer folders (the first ${i} of the ${list.length} fit), or share a common parent folder once instead of many folders under it.`,
        }),
      ];
    }
  }
  return [];
}
