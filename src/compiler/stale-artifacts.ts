// Files an earlier `compile -o` wrote into a folder that this policy no longer emits (an old
// proxy.json after the last egress line went): left there, a stale proxy.env could still be
// installed in the guest. Only files the folder's own manifest.json lists, under a plain name, as
// a regular file whose bytes are still exactly what compile wrote, count as ours; anything else —
// the owner's own files, a file they edited, a link — is never touched.

import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '../lazy-builtins.ts';
import { ARTIFACT_MANIFEST } from './emit/artifact-manifest.ts';
import { GENERATED_BY } from './emit/header.ts';

export interface StaleArtifacts {
  /** Names to remove: ours, unchanged, and no longer emitted. */
  remove: string[];
  /** Names the old manifest lists that stay, and why. */
  kept: Array<{ name: string; why: string }>;
}

/** The largest manifest read: a real one is a few hundred bytes per artifact. */
const MAX_MANIFEST_BYTES = 1 << 16;

// Compares the folder's manifest.json (if it is ours) with the names about to be written.
export async function findStaleArtifacts(dir: string, emitted: ReadonlySet<string>): Promise<StaleArtifacts> {
  const out: StaleArtifacts = { remove: [], kept: [] };
  const listed = await readManifest(join(dir, ARTIFACT_MANIFEST));
  for (const entry of listed) {
    if (emitted.has(entry.name)) continue;
    const path = join(dir, entry.name);
    const info = await lstat(path).catch(() => undefined);
    if (info === undefined) continue;
    if (!info.isFile()) {
      out.kept.push({ name: entry.name, why: 'it is no longer a regular file' });
      continue;
    }
    const bytes = info.size <= MAX_MANIFEST_BYTES * 64 ? await readFile(path).catch(() => undefined) : undefined;
    if (bytes === undefined || sha256Hex(bytes) !== entry.sha256) {
      out.kept.push({ name: entry.name, why: 'it changed since compile wrote it' });
      continue;
    }
    out.remove.push(entry.name);
  }
  return out;
}

// The entries of a nanopolicy manifest.json; nothing when it is absent, not ours or malformed.
async function readManifest(path: string): Promise<Array<{ name: string; sha256: string }>> {
  const info = await lstat(path).catch(() => undefined);
  if (!info?.isFile() || info.size > MAX_MANIFEST_BYTES) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return [];
  }
  const m = parsed as { generatedBy?: unknown; artifacts?: unknown };
  if (m?.generatedBy !== GENERATED_BY || !Array.isArray(m.artifacts)) return [];
  return m.artifacts.flatMap((a: { name?: unknown; sha256?: unknown }) =>
    // A plain file name only: a manifest that says "../x" or "/etc/x" names nothing of ours.
    typeof a?.name === 'string' && typeof a.sha256 === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(a.name) && a.name !== ARTIFACT_MANIFEST ? [{ name: a.name, sha256: a.sha256 }] : [],
  );
}
