// A header template as the policy writes it ("Bot {discord}"): literal text and {secret} names.
// Pure, shared by the check passes and by the proxy that fills it in.

/** Literal text, or the name of a secret whose value goes there. */
export type TemplatePart = { text: string } | { secret: string };

export type TemplateParse =
  | { ok: true; parts: TemplatePart[] }
  | { ok: false; offset: number; length: number; message: string; hint: string };

const SECRET_NAME = /^[a-z][a-z0-9-]*$/;

// Splits a template into text and {name} parts; a brace that opens no valid {name} is an error at
// its offset, so the policy says exactly where (a stray brace would otherwise be sent as written).
export function parseTemplate(template: string): TemplateParse {
  const parts: TemplatePart[] = [];
  let text = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c === '}') {
      return { ok: false, offset: i, length: 1, message: 'has a "}" that closes no "{"', hint: 'Secrets are written "{name}"; a literal brace cannot be sent.' };
    }
    if (c !== '{') {
      text += c;
      continue;
    }
    const end = template.indexOf('}', i + 1);
    const name = end === -1 ? '' : template.slice(i + 1, end);
    if (end === -1 || !SECRET_NAME.test(name)) {
      const length = end === -1 ? template.length - i : end - i + 1;
      return { ok: false, offset: i, length, message: `has "${template.slice(i, i + length)}", which is not a secret's name in braces`, hint: 'Write the name of a "secret" line in braces, as in "{anthropic}".' };
    }
    if (text) parts.push({ text });
    text = '';
    parts.push({ secret: name });
    i = end;
  }
  if (text) parts.push({ text });
  return { ok: true, parts };
}

// The names a template uses, in order, each once.
export function templateSecrets(parts: readonly TemplatePart[]): string[] {
  return [...new Set(parts.flatMap((p) => ('secret' in p ? [p.secret] : [])))];
}

// The template with each secret's value filled in (values are looked up by name; a missing one is a bug).
export function fillTemplate(parts: readonly TemplatePart[], values: ReadonlyMap<string, string>): string {
  let out = '';
  for (const part of parts) {
    if ('text' in part) out += part.text;
    else {
      const value = values.get(part.secret);
      if (value === undefined) throw new Error(`no value for the secret "${part.secret}"`);
      out += value;
    }
  }
  return out;
}
