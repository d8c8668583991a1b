// Guards for values an emitter cannot write safely. The checks in src/compiler/passes reject these
// with a diagnostic first; an emitter still refuses them rather than emit something that means
// another thing (a "/" in an anchor name, a ":" in a tart --dir value).

import type { Policy } from '../policy.ts';

export class UnexpressibleError extends Error {
  override name = 'UnexpressibleError';
}

const VM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

// The VM name goes into pf anchor paths, nft table names, launchd labels and file names.
export function assertVmName(policy: Pick<Policy, 'vm'>): void {
  if (!VM_NAME.test(policy.vm)) {
    throw new UnexpressibleError(`The VM name "${policy.vm}" cannot be written into a pf anchor path; use letters, digits, ".", "_" and "-".`);
  }
}

// tart splits `--dir` on ":" (domain.md §2), so neither name nor path may hold one. It also splits
// the last ":" piece on "," and eats it as options when a piece is "ro" or starts with "tag="
// (Run.swift `DirectoryShare.parseOptions`): an rw path "/a,ro" would lose its path, so no ",".
export function assertShareExpressible(name: string, path: string): void {
  if (name === '' || /[:/,]/.test(name)) {
    throw new UnexpressibleError(`The share name "${name}" cannot be passed to tart --dir.`);
  }
  if (/[:,]/.test(path) || !path.startsWith('/')) {
    throw new UnexpressibleError(`The share path "${path}" cannot be passed to tart --dir: it must be absolute and hold no ":" or ",".`);
  }
}
