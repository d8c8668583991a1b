// Every template names secrets that exist, in valid braces; every secret is used by some line; a
// `websocket-token` is exactly one secret, once per line.

import type { InjectionNode, Located, Span } from '../../grammar/ast.ts';
import { errorAt, warningAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { egressRules, secrets, type CheckContext } from '../check-context.ts';
import { parseTemplate } from '../../formats/header-template.ts';

export function checkSecretReferences({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const declared = new Map(secrets(ast).map((s) => [s.name.value, s]));
  const used = new Set<string>();
  for (const rule of egressRules(ast)) {
    let websocket: InjectionNode | undefined;
    for (const injection of rule.injections) {
      const { template } = injection;
      const what = injection.header ? `The value of "${injection.header.value}"` : 'The websocket token';
      if (!injection.header) {
        if (websocket) {
          out.push(errorAt(ast.file, injection.key.span, {
            code: 'NP292',
            message: `A second "websocket-token" on the egress rule "${rule.name.value}"; the gateway takes one token.`,
            hint: 'Keep one "websocket-token {secret}" on the line.',
          }));
        }
        websocket = injection;
      }
      const parsed = parseTemplate(template.value);
      if (!parsed.ok) {
        out.push(errorAt(ast.file, inside(template, parsed.offset, parsed.length), { code: 'NP292', message: `${what} ${parsed.message}.`, hint: parsed.hint }));
        continue;
      }
      const names = parsed.parts.filter((p): p is { secret: string } => 'secret' in p);
      if (names.length === 0) {
        out.push(errorAt(ast.file, template.span, {
          code: 'NP292',
          message: `${what} names no secret; the proxy would send "${template.value}" as it is.`,
          hint: 'Put the secret in braces, as in "{anthropic}" (a constant header needs no proxy: send it from the guest).',
        }));
        continue;
      }
      if (!injection.header && (parsed.parts.length !== 1 || names.length !== 1)) {
        out.push(errorAt(ast.file, template.span, {
          code: 'NP292',
          message: `The websocket token "${template.value}" must be one secret alone; the gateway's "d.token" is the bare token.`,
          hint: 'Write "websocket-token {name}" with nothing around the braces.',
        }));
      }
      let offset = 0;
      for (const part of parsed.parts) {
        const length = 'secret' in part ? part.secret.length + 2 : part.text.length;
        if ('secret' in part) {
          used.add(part.secret);
          if (!declared.has(part.secret)) {
            out.push(errorAt(ast.file, inside(template, offset, length), {
              code: 'NP290',
              message: `No secret is named "${part.secret}".`,
              hint: declared.size > 0
                ? `Use one of ${[...declared.keys()].map((n) => `"{${n}}"`).join(', ')}, or add a line "secret ${part.secret} from keychain SERVICE".`
                : `Add a line "secret ${part.secret} from keychain SERVICE" (or "from command", "from file").`,
            }));
          }
        }
        offset += length;
      }
    }
  }
  for (const [name, statement] of declared) {
    if (used.has(name)) continue;
    out.push(warningAt(ast.file, statement.name.span, {
      code: 'NP291',
      message: `The secret "${name}" is never injected; the proxy would read it for nothing.`,
      hint: `Add "inject HEADER: {${name}}" (or "websocket-token {${name}}") to the egress line it belongs to, or remove the secret.`,
    }));
  }
  return out;
}

// The span of `length` characters at `offset` of a template's text (a quoted template starts one
// column after its quote).
function inside(template: Located, offset: number, length: number): Span {
  const quoted = template.span.endColumn - template.span.column !== template.value.length;
  const column = template.span.column + (quoted ? 1 : 0) + offset;
  return { line: template.span.line, column, endColumn: Math.min(template.span.endColumn, column + Math.max(1, length)) };
}
