// Lower case without a copy when there is nothing to change: a compile lowercases every egress
// host and folds every mount path, and nearly all are written in lower case already (issue 9).

/** text.toLowerCase(), or text itself when it holds no ASCII capital and nothing past ASCII. */
export function lowerCase(text: string): string {
  return MAY_CHANGE.test(text) ? text.toLowerCase() : text;
}

/** What toLowerCase could change: an ASCII capital, or any character past ASCII. */
const MAY_CHANGE = /[A-Z\u0080-\uffff]/;
