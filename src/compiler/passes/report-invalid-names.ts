// Names are lowercase words ([a-z][a-z0-9-]*) short enough for every place they end up in:
// tart's --dir NAME:PATH, the pf anchor path, the nft table name and the launchd label.

import type { Located } from '../../grammar/ast.ts';
import { errorAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import type { CheckContext } from '../check-context.ts';

const NAME = /^[a-z][a-z0-9-]*$/;
// pf keeps an anchor path in 64 bytes (PF_ANCHOR_NAME_SIZE) with its terminating NUL;
// "com.apple/100.nanopolicy." takes 25 of them.
const MAX_VM_NAME = 63 - 'com.apple/100.nanopolicy.'.length;
const MAX_NAME = 63;

const WHAT = { vm: 'VM', allow: 'bridge', mount: 'mount', egress: 'egress', secret: 'secret' } as const;

export function reportInvalidNames({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  // Indexed, as every loop over all statements: see findOption.
  const { statements } = ast;
  for (let i = 0; i < statements.length; i++) {
    const statement = statements[i]!;
    if (statement.kind === 'network' || statement.kind === 'proxy' || statement.kind === 'snapshot') continue;
    const problem = nameProblem(statement.name, statement.kind);
    if (problem) out.push(errorAt(ast.file, statement.name.span, { ...problem, message: `The ${WHAT[statement.kind]} name ${problem.message}` }));
  }
  return out;
}

function nameProblem(name: Located, kind: keyof typeof WHAT): { code: string; message: string; hint: string } | undefined {
  const text = name.value;
  // The common case first, with nothing built: a valid name of a sane length (issue 9).
  if (NAME.test(text) && text.length <= (kind === 'vm' ? MAX_VM_NAME : MAX_NAME)) return undefined;
  const suggestion = () => text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^[^a-z]+/, '').replace(/-+$/, '') || 'share';
  if (kind === 'mount' && /[:/,]/.test(text)) {
    return {
      code: 'NP301',
      message: `"${text}" holds "${text.match(/[:/,]/)![0]}", which tart's --dir NAME:PATH[:OPTIONS] would read as a separator.`,
      hint: `Name the mount with letters, digits and "-" only, as in "${suggestion()}".`,
    };
  }
  if (!NAME.test(text)) {
    return {
      code: 'NP205',
      message: `"${text}" is not a valid name.`,
      hint: `Names are lowercase letters, digits and "-", starting with a letter, as in "${suggestion()}".`,
    };
  }
  if (kind === 'vm' && text.length > MAX_VM_NAME) {
    return {
      code: 'NP302',
      message: `"${text}" is ${text.length} characters long; pf anchor names allow ${MAX_VM_NAME} for the VM.`,
      hint: 'Give the VM a shorter name ("tart rename OLD NEW") and use it here.',
    };
  }
  if (text.length > MAX_NAME) {
    return { code: 'NP205', message: `"${text.slice(0, 20)}…" is longer than ${MAX_NAME} characters.`, hint: 'Use a shorter name.' };
  }
  return undefined;
}
