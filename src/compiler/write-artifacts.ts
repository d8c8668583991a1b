// Writes compiled artifacts into a folder all or nothing: every target is checked first, each file
// goes to a fresh temporary name (created exclusively, never through a symlink), and the files are
// renamed into place only once every one was written.

import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { sha256Hex } from '../lazy-builtins.ts';
import { dirname, join } from 'node:path';
import type { Artifact } from './artifact.ts';
import { findStaleArtifacts } from './stale-artifacts.ts';

export interface WrittenArtifact {
  name: string;
  path: string;
  sha256: string;
  bytes: number;
  description: string;
}

/** A problem with the output folder the user must fix; nothing was written. */
export class OutputError extends Error {
  override name = 'OutputError';
}

export interface WriteOptions {
  /** The policy file: it is never overwritten, whatever the folder holds. */
  policyPath?: string;
  /** Told of each earlier artifact of ours removed, and each one kept (stale-artifacts.ts). */
  stale?: (event: { name: string; path: string; removed: boolean; why?: string }) => void;
}

// Writes every artifact into dir, or throws an OutputError having written nothing.
export async function writeArtifacts(dir: string, artifacts: readonly Artifact[], options: WriteOptions = {}): Promise<WrittenArtifact[]> {
  await makeFolder(dir);
  await checkTargets(dir, artifacts, options);
  // Read before the new manifest.json replaces the old one, which is what says what was ours.
  const stale = await findStaleArtifacts(dir, new Set(artifacts.map((a) => a.name)));
  const temporary = artifacts.map((a) => join(dir, `.${a.name}.${process.pid}.tmp`));
  try {
    for (const [i, artifact] of artifacts.entries()) await writeExclusive(temporary[i]!, artifact);
    for (const [i, artifact] of artifacts.entries()) await rename(temporary[i]!, join(dir, artifact.name));
  } catch (error) {
    await Promise.all(temporary.map((t) => rm(t, { force: true })));
    throw error instanceof OutputError ? error : new OutputError(`Cannot write into "${dir}": ${reason(error)}.`);
  }
  // Only once every new file is in place: a failed write leaves the old set whole.
  for (const name of stale.remove) {
    const path = join(dir, name);
    try {
      await rm(path);
      options.stale?.({ name, path, removed: true });
    } catch (error) {
      options.stale?.({ name, path, removed: false, why: `it could not be removed (${reason(error)})` });
    }
  }
  for (const k of stale.kept) options.stale?.({ name: k.name, path: join(dir, k.name), removed: false, why: k.why });
  return artifacts.map((a) => ({
    name: a.name,
    path: join(dir, a.name),
    sha256: sha256Hex(a.content),
    bytes: Buffer.byteLength(a.content, 'utf8'),
    description: a.description,
  }));
}

// Creates the folder and its missing parents one by one. (mkdir { recursive } loops forever on
// some paths, such as "/proc/x" on Linux.)
async function makeFolder(dir: string): Promise<void> {
  const missing: string[] = [];
  let current = dir;
  for (;;) {
    const info = await stat(current).catch((error: NodeJS.ErrnoException) => error);
    if (!(info instanceof Error)) {
      if (!info.isDirectory()) throw new OutputError(`The output path "${current}" is not a folder.`);
      break;
    }
    if (info.code !== 'ENOENT') throw new OutputError(`Cannot use the output folder "${dir}": ${reason(info)}.`);
    missing.push(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const folder of missing.reverse()) {
    try {
      await mkdir(folder, { mode: 0o755 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new OutputError(`Cannot create the output folder "${folder}": ${reason(error)}.`);
    }
  }
  // Temporary files and renames must land in a folder that is really there and ours to write.
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new OutputError(`The output path "${dir}" is not a folder.`);
}

// Every target is absent or a plain file, and none is the policy: else nothing is written at all.
async function checkTargets(dir: string, artifacts: readonly Artifact[], options: WriteOptions): Promise<void> {
  const policy = options.policyPath === undefined ? undefined : await stat(options.policyPath).catch(() => undefined);
  for (const artifact of artifacts) {
    const target = join(dir, artifact.name);
    const info = await lstat(target).catch((error: NodeJS.ErrnoException) => error);
    if (info instanceof Error) {
      if (info.code === 'ENOENT') continue;
      throw new OutputError(`Cannot use "${target}": ${reason(info)}.`);
    }
    if (!info.isFile()) {
      const what = info.isDirectory() ? 'a folder' : info.isSymbolicLink() ? 'a symbolic link' : 'not a regular file';
      throw new OutputError(`"${target}" is ${what}; compile replaces only regular files it wrote before, so nothing was written.`);
    }
    if (policy && info.dev === policy.dev && info.ino === policy.ino) {
      throw new OutputError(`"${target}" is the policy file itself; write the artifacts into another folder, so nothing was written.`);
    }
  }
}

// Creates a temporary file that must not exist yet and must not be a link, then fills it.
async function writeExclusive(path: string, artifact: Artifact): Promise<void> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const handle = await open(path, flags, artifact.mode);
  try {
    await handle.writeFile(artifact.content, 'utf8');
    await handle.chmod(artifact.mode);
  } finally {
    await handle.close();
  }
}

function reason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e?.code === 'EACCES' || e?.code === 'EPERM') return 'permission denied';
  if (e?.code === 'EROFS') return 'the file system is read-only';
  if (e?.code === 'ENOTDIR') return 'a part of the path is not a folder';
  if (e?.code === 'EEXIST') return 'a leftover temporary file is in the way';
  if (e?.code === 'ENOENT') return 'that place cannot hold a new folder';
  if (e?.code === 'ELOOP') return 'a temporary file name is a symbolic link';
  return e?.message ?? String(error);
}
