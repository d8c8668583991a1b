// Output for the commands that print once and end (check, compile), written straight to the file
// descriptor. Creating process.stdout and process.stderr costs a start ~10 ms here: Node loads its
// stream machinery for them, and node:net as well when they are pipes (issue 9), a tenth of a
// whole `check`. A blocking write suits a command that would wait for its output to drain before
// it exits anyway. It does not suit one that keeps running (enforce --supervise, verify's progress,
// log --follow): a reader that stops reading would stall it, so those keep Node's streams.

import { fstatSync, statSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Writable } from './io.ts';

export interface FdOutput extends Writable {
  /** The Node stream this switched to, if it had to (a descriptor in non-blocking mode). */
  readonly stream: NodeJS.WritableStream | undefined;
}

/**
 * Writes to `fd` with writeSync, whole chunks in order. A descriptor that answers EAGAIN (shared,
 * non-blocking) gets the rest, and every later write, through `stream()`, so order is kept. After
 * EPIPE (the reader is gone: `nanopolicy check … | head -1`, the reader's choice, not an error)
 * the rest is dropped, and the command still ends with its own exit code.
 */
export function fdOutput(fd: number, stream: () => NodeJS.WritableStream, write: typeof writeSync = writeSync): FdOutput {
  let fallback: NodeJS.WritableStream | undefined;
  let tty: boolean | undefined;
  let readerGone = false;
  return {
    get stream() {
      return fallback;
    },
    // A terminal is a character device, and so is /dev/null (`check … >/dev/null 2>&1`, for the
    // exit code alone): only another character device is asked exactly (node:tty loads node:net).
    get isTTY() {
      tty ??= maybeTerminal(fd) && (createRequire(import.meta.url)('node:tty') as typeof import('node:tty')).isatty(fd);
      return tty;
    },
    write(chunk: string) {
      if (fallback) return fallback.write(chunk);
      if (readerGone) return false;
      const bytes = Buffer.from(chunk);
      let offset = 0;
      while (offset < bytes.length) {
        try {
          offset += write(fd, bytes, offset);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'EAGAIN') {
            fallback = stream();
            return fallback.write(bytes.subarray(offset));
          }
          if (code === 'EPIPE') {
            readerGone = true;
            return false;
          }
          throw error;
        }
      }
      return true;
    },
  };
}

// A character device other than /dev/null.
function maybeTerminal(fd: number): boolean {
  try {
    const stat = fstatSync(fd);
    return stat.isCharacterDevice() && stat.rdev !== statSync('/dev/null').rdev;
  } catch {
    return false;
  }
}
