// The bridges fit the pf anchor: its listen ports go into one quoted macro, and pfctl's lexer holds
// a quoted string in an 8096-byte buffer (pfctl parse.y, yylex: "string too long" beyond 8094
// characters). A policy past that would compile here and fail when enforce loads it.

import { errorAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { bridges, type CheckContext } from '../check-context.ts';

/** pfctl parse.y: `char buf[8096]`, and a quoted string stops at sizeof(buf) - 2 characters. */
export const PF_STRING_MAX = 8094;
/** Room for the few gateway ports the anchor adds besides the bridges (a proxy, say). */
const RESERVED = 4 * 6;

export function checkPfLimits({ ast }: CheckContext): Diagnostic[] {
  // The macro reads `{ P1 P2 … }`: two characters each side, each port plus one space.
  let length = '{ '.length + ' }'.length - 1 + RESERVED;
  const seen = new Set<number>();
  let count = 0;
  for (const bridge of bridges(ast)) {
    const port = Number(bridge.port.value);
    if (!(port >= 1 && port <= 65535) || seen.has(port)) continue;
    seen.add(port);
    count++;
    length += String(port).length + 1;
    if (length > PF_STRING_MAX) {
      return [
        errorAt(ast.file, bridge.span, {
          code: 'NP304',
          message: `The bridge "${bridge.name.value}" is one too many: ${count} listen ports do not fit pf's port list (pfctl reads at most ${PF_STRING_MAX} characters into one macro).`,
          hint: `Keep to about ${count - 1} bridges; bridges to one service can share a listen port only by being one bridge.`,
        }),
      ];
    }
  }
  return [];
}
