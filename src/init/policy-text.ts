// How init writes paths and comments into a policy so that the file says exactly what was found:
// a path is bare only when plainly safe, else double-quoted with \" and \\ escapes; a comment never
// holds a character that could end its line.

import { visible } from './visible-text.ts';

// A path as the grammar reads it back to the same string, or undefined when no policy line can
// hold it (a control character: the compiler refuses those anyway).
export function policyPath(path: string, home: string): string | undefined {
  if (/[\u0000-\u001f\u007f\u2028\u2029]/.test(path)) return undefined;
  const shown = path === home ? '~' : path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path;
  if (/^[A-Za-z0-9._/~+@-]+$/.test(shown)) return shown;
  return `"${shown.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

// One comment line: "# " and the text made visible (no newline can hide in it).
export function comment(text = ''): string {
  return text === '' ? '#' : `# ${visible(text, 400)}`;
}
