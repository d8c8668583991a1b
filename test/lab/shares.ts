// The VM's shared folders: host folders under the lab directory, bind-mounted into a shares root
// that stands in for "/Volumes/My Shared Files" (read-only ones really read-only).

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface ShareSpec {
  name: string;
  mode: 'ro' | 'rw';
  /** Files to create in the host folder first: relative path → content. */
  files?: Record<string, string>;
}

export interface SharesView {
  /** The VM's view: pass to the verifier as --shares-root. Contains a space, like the real one. */
  root: string;
  /** Host folder per share name (what the policy's share paths point at). */
  hostDirs: Record<string, string>;
}

// Creates the host folder and its bind mount for one share; returns the host folder.
export function mountShare(labDir: string, spec: ShareSpec): string {
  if (!/^[A-Za-z0-9._-]+$/.test(spec.name) || spec.name.startsWith('.')) throw new Error(`Bad share name "${spec.name}".`);
  const hostDir = join(labDir, 'host-folders', spec.name);
  const point = join(sharesRoot(labDir), spec.name);
  mkdirSync(hostDir, { recursive: true });
  mkdirSync(point, { recursive: true });
  for (const [rel, content] of Object.entries(spec.files ?? {})) {
    if (rel.split('/').includes('..')) throw new Error(`Bad share file "${rel}".`);
    mkdirSync(dirname(join(hostDir, rel)), { recursive: true });
    writeFileSync(join(hostDir, rel), content);
  }
  mount(['--bind', hostDir, point]);
  // A bind mount takes the source's flags; read-only needs this second remount (mount(8)).
  if (spec.mode === 'ro') mount(['-o', 'remount,bind,ro', point]);
  return hostDir;
}

// Remounts a share with another mode (the fault hook for "a ro share became writable").
export function remountShare(labDir: string, name: string, mode: 'ro' | 'rw'): void {
  mount(['-o', `remount,bind,${mode}`, join(sharesRoot(labDir), name)]);
}

// The directory that plays "/Volumes/My Shared Files" for this lab.
export function sharesRoot(labDir: string): string {
  return join(labDir, 'Volumes', 'My Shared Files');
}

// Runs mount(8); throws with its message on failure.
function mount(args: string[]): void {
  const r = spawnSync('mount', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount ${args.join(' ')} failed: ${r.stderr.trim()}`);
}
