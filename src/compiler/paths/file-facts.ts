// The few facts about a file a secret source depends on, read from this host (or faked in tests).

import { lstatSync } from 'node:fs';

export interface FileFact {
  /** A regular file, not a link, folder or device. */
  regular: boolean;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  uid: number;
}

export interface FileFacts {
  /** The uid the secret files must belong to: the owner who compiles. */
  ownerUid: number;
  /** undefined when the file does not exist (yet). */
  stat(path: string): FileFact | undefined;
}

// Facts from this host's file system, for the user running nanopolicy. lstat, not stat: a link
// could be pointed elsewhere between this check and the proxy's read.
export function hostFileFacts(): FileFacts | undefined {
  if (typeof process.getuid !== 'function') return undefined;
  return {
    ownerUid: process.getuid(),
    stat(path) {
      try {
        const s = lstatSync(path);
        return { regular: s.isFile(), mode: s.mode & 0o7777, uid: s.uid };
      } catch {
        return undefined;
      }
    },
  };
}
