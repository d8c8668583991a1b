// Text from a hostile install shown to the owner on one line: in a policy comment, a warning or
// JSON. Control characters (a newline would start a new policy line), line and paragraph
// separators and bidi controls are written as \u escapes, so what is shown is what was found.

export function visible(text: string, max = 160): string {
  const escaped = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return escaped.length > max ? `${escaped.slice(0, max - 1)}…` : escaped;
}
