// Writes compiled artifacts into a folder all or nothing: each file goes to a temporary name
// first and is renamed into place only once every file was written.

import { createHash } from 'node:crypto';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Artifact } from './artifact.ts';

export interface WrittenArtifact {
  name: string;
  path: string;
  sha256: string;
  bytes: number;
  description: string;
}

export async function writeArtifacts(dir: string, artifacts: readonly Artifact[]): Promise<WrittenArtifact[]> {
  await mkdir(dir, { recursive: true });
  const temporary = artifacts.map((a) => join(dir, `.${a.name}.${process.pid}.tmp`));
  try {
    for (const [i, artifact] of artifacts.entries()) {
      await writeFile(temporary[i]!, artifact.content, { mode: artifact.mode });
      await chmod(temporary[i]!, artifact.mode);
    }
    for (const [i, artifact] of artifacts.entries()) await rename(temporary[i]!, join(dir, artifact.name));
  } catch (error) {
    await Promise.all(temporary.map((t) => rm(t, { force: true })));
    throw error;
  }
  return artifacts.map((a) => ({
    name: a.name,
    path: join(dir, a.name),
    sha256: createHash('sha256').update(a.content, 'utf8').digest('hex'),
    bytes: Buffer.byteLength(a.content, 'utf8'),
    description: a.description,
  }));
}
