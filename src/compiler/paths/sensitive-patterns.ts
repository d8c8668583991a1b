// Folders that must never be shared with a hostile VM unless the owner says so on the line.
// At least NanoClaw's own mount allowlist (src/mount-security, domain.md §5), plus macOS keychains
// and the usual password stores.

import { foldPath } from './fold-path.ts';

export const SENSITIVE_PATTERNS: readonly string[] = [
  '.ssh', '.gnupg', '.gpg', '.aws', '.azure', '.gcloud', '.kube', '.docker', 'credentials', '.env',
  '.netrc', '.npmrc', '.pypirc', 'id_rsa', 'id_ed25519', 'private_key', '.secret',
  'Keychains', '.password-store',
];

const FOLDED = SENSITIVE_PATTERNS.map((pattern) => ({ pattern, folded: foldPath(pattern) }));

// The first sensitive pattern a path matches, by segment: a segment equal to the pattern, or the
// pattern followed by ".", "-" or "_" (".env.local", "id_rsa.pub", "credentials_prod"). Compared
// without case and after normalisation: on a Mac "~/.SSH" and "~/Library/keychains" are the real ones.
export function sensitiveSegment(path: string): { segment: string; pattern: string } | undefined {
  for (const segment of path.split('/')) {
    const folded = foldPath(segment);
    for (const { pattern, folded: p } of FOLDED) {
      if (folded === p || (folded.startsWith(p) && /^[._-]/.test(folded.slice(p.length)))) {
        return { segment, pattern };
      }
    }
  }
  return undefined;
}
