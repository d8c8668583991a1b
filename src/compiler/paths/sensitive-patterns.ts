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
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A folded segment that is a pattern, or a pattern followed by ".", "-" or "_"; alternatives in list order. */
const SEGMENT = new RegExp(`^(?:${FOLDED.map(({ folded }) => `(${escape(folded)})`).join('|')})(?:$|[._-])`);
/** The same anywhere in a folded path: most paths match nothing, and are cleared by this one test. */
const ANYWHERE = new RegExp(`(?:^|/)(?:${FOLDED.map(({ folded }) => escape(folded)).join('|')})(?:$|[/._-])`);

// The first sensitive pattern a path matches, by segment: a segment equal to the pattern, or the
// pattern followed by ".", "-" or "_" (".env.local", "id_rsa.pub", "credentials_prod"). Compared
// without case and after normalisation: on a Mac "~/.SSH" and "~/Library/keychains" are the real ones.
export function sensitiveSegment(path: string, folded = foldPath(path)): { segment: string; pattern: string } | undefined {
  if (!ANYWHERE.test(folded)) return undefined;
  for (const segment of path.split('/')) {
    const match = SEGMENT.exec(foldPath(segment));
    if (match) return { segment, pattern: FOLDED[match.slice(1).findIndex((group) => group !== undefined)]!.pattern };
  }
  return undefined;
}
