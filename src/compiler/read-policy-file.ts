// Reads a policy file's bytes, refusing before reading anything that is not a plain file of a sane
// size: a FIFO or a device would hang or stream forever, a huge file would eat the memory.

import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { errorAt, type Diagnostic } from '../diagnostics/diagnostic.ts';

/** Far above any real policy (the bundled one is 1 KB; 30,000 statements are about 1.5 MB). */
export const MAX_POLICY_BYTES = 4 * 1024 * 1024;

export type ReadPolicy = { ok: true; bytes: Buffer } | { ok: false; diagnostic: Diagnostic };

// The file's bytes, or the one diagnostic that says why they were not read. Synchronous inside
// (node:fs/promises costs start-up, issue 9); async for its callers.
export async function readPolicyFile(path: string, shownAs: string): Promise<ReadPolicy> {
  const fail = (code: string, message: string, hint: string): ReadPolicy => ({
    ok: false,
    diagnostic: errorAt(shownAs, { line: 1, column: 1, endColumn: 1 }, { code, message, hint }),
  });
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
    handle = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'it does not exist' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : (error as Error).message;
    return fail('NP401', `Cannot read the policy file "${shownAs}": ${reason}.`, 'Check the path; the bundled policy is policy/nanoclaw.policy.');
  }
  try {
    const stat = fstatSync(handle);
    if (!stat.isFile()) {
      const what = stat.isDirectory() ? 'a folder' : stat.isFIFO() ? 'a named pipe' : stat.isSocket() ? 'a socket' : 'a device';
      return fail('NP402', `The policy "${shownAs}" is ${what}, not a regular file.`, 'Give the path of the policy file itself, as in "policy/nanoclaw.policy".');
    }
    if (stat.size > MAX_POLICY_BYTES) {
      return fail('NP403', `The policy "${shownAs}" is ${stat.size} bytes; a policy may be at most ${MAX_POLICY_BYTES} bytes.`, 'Check that this is the policy file and not something else.');
    }
    // Read one byte more than allowed, so a file that grows while it is read is refused too.
    // Not zero-filled: only the bytes read are kept.
    let buffer: Buffer = Buffer.allocUnsafe(Math.min(stat.size, MAX_POLICY_BYTES) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) buffer = grow(buffer);
      const bytesRead = readSync(handle, buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_POLICY_BYTES) {
        return fail('NP403', `The policy "${shownAs}" is larger than ${MAX_POLICY_BYTES} bytes.`, 'Check that this is the policy file and not something else.');
      }
    }
    // The bytes read, in place: a copy would fault in the file's size in fresh memory again (issue 9).
    return { ok: true, bytes: buffer.subarray(0, length) };
  } catch (error) {
    return fail('NP401', `Cannot read the policy file "${shownAs}": ${(error as Error).message}.`, 'Check the path and its permissions.');
  } finally {
    closeSync(handle);
  }
}

// A file that grew after fstat: twice the room, up to one byte over the limit.
function grow(buffer: Buffer): Buffer {
  const bigger = Buffer.allocUnsafe(Math.min(buffer.length * 2, MAX_POLICY_BYTES + 1));
  buffer.copy(bigger);
  return bigger;
}
