// An injected header is a valid header name, not one the proxy frames requests with, and set once
// per line.

import { errorAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { egressRules, type CheckContext } from '../check-context.ts';
import { FRAMING_HEADERS, isHeaderName } from '../../formats/header-name.ts';

export function checkInjectHeaders({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const rule of egressRules(ast)) {
    const seen = new Map<string, number>();
    for (const { header } of rule.injections) {
      if (!header) continue;
      const lower = header.value.toLowerCase();
      if (!isHeaderName(header.value)) {
        out.push(errorAt(ast.file, header.span, {
          code: 'NP296',
          message: `"${header.value}" is not a header name.`,
          hint: 'A header name is letters, digits and !#$%&\'*+-.^_`|~, followed by ":", as in "inject x-api-key: {anthropic}".',
        }));
      } else if (FRAMING_HEADERS.has(lower)) {
        out.push(errorAt(ast.file, header.span, {
          code: 'NP296',
          message: `The header "${lower}" frames or routes the request; the proxy sets it itself and never injects it.`,
          hint: 'Inject the header the service reads the credential from, as "authorization" or "x-api-key".',
        }));
      } else if (seen.has(lower)) {
        out.push(errorAt(ast.file, header.span, {
          code: 'NP296',
          message: `The header "${lower}" is injected twice on this line.`,
          hint: 'Keep one "inject" per header.',
        }));
      }
      seen.set(lower, header.span.column);
    }
  }
  return out;
}
