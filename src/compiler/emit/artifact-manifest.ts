// manifest.json: every other artifact's name, hash, size and mode, so enforce can tell that the
// files it applies are the ones compile wrote.

import { sha256Hex as hashHex } from '../../lazy-builtins.ts';
import type { Artifact } from '../artifact.ts';
import type { Policy } from '../policy.ts';
import { anchorName } from '../policy.ts';
import { GENERATED_BY } from './header.ts';

export interface ArtifactManifest {
  generatedBy: typeof GENERATED_BY;
  policy: { file: string; sha256: string };
  vm: string;
  anchor: string;
  /** Sorted by name. `mode` is octal text, e.g. "0755". */
  artifacts: Array<{ name: string; sha256: string; bytes: number; mode: string }>;
}

export const ARTIFACT_MANIFEST = 'manifest.json';

// sha256 of text as UTF-8, lowercase hex.
export function sha256Hex(text: string): string {
  return hashHex(text);
}

// The manifest as data over `artifacts` (itself left out).
export function buildArtifactManifest(policy: Policy, artifacts: readonly Artifact[]): ArtifactManifest {
  return {
    generatedBy: GENERATED_BY,
    policy: { file: policy.source.file, sha256: policy.source.sha256 },
    vm: policy.vm,
    anchor: anchorName(policy),
    artifacts: artifacts
      .filter((a) => a.name !== ARTIFACT_MANIFEST)
      .map((a) => ({ name: a.name, sha256: sha256Hex(a.content), bytes: Buffer.byteLength(a.content, 'utf8'), mode: `0${(a.mode & 0o777).toString(8)}` }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}

// The file's text: 2-space JSON with a final newline.
export function emitArtifactManifest(policy: Policy, artifacts: readonly Artifact[]): string {
  return `${JSON.stringify(buildArtifactManifest(policy, artifacts), null, 2)}\n`;
}
