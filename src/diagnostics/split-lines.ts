// Splits policy text into lines the one way the parser, the formatter and every check agree on.

// A line ends at "\r\n", "\n" or a lone "\r": an editor that shows a lone CR as a line break must
// not hide a second statement that the parser would read as part of the first line.
export const LINE_END = /\r\n|\r|\n/;

// The lines of a text, without their ends (a text ending in a line end has an empty last line).
export function splitLines(text: string): string[] {
  return text.split(LINE_END);
}
