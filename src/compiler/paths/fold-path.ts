// Paths as a macOS volume compares them: APFS and HFS+ are case-insensitive and
// normalization-insensitive by default, so "~/.SSH", "/users/owner" and "Caf\u00e9" vs "Cafe\u0301"
// name the same folders as "~/.ssh", "/Users/owner" and "Café". Every check that asks "is this the
// same folder, or inside it?" compares folded paths.

import { lowerCase } from '../../lower-case.ts';

// The form two paths share exactly when a default macOS volume treats them as one.
// Plain ASCII, nearly every path, has nothing to normalise: lower case is the whole fold, and
// skipping ICU's normalize keeps a 10,000-mount check cheap (issue 9). Without capitals either,
// the path is its own fold, and no copy of it is made (lowerCase).
export function foldPath(path: string): string {
  if (ASCII.test(path)) return lowerCase(path);
  return path.normalize('NFD').toLowerCase().normalize('NFD');
}

const ASCII = /^[\x00-\x7f]*$/;
