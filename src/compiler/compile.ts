// The compile session: parse, run every check, and lower — or return every problem at once.
// Stages stop on errors (a syntax error makes meaning checks guess), but within a stage every
// problem of the file is reported.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { parsePolicy } from '../grammar/parse-policy.ts';
import { errorAt, hasErrors, sortDiagnostics, type Diagnostic } from './diagnostic.ts';
import { CHECK_PASSES } from './passes/index.ts';
import { lowerPolicy } from './lower-policy.ts';
import type { Policy } from './policy.ts';

export interface CompileInput {
  /** The policy path as the user gave it: printed in messages and artifact headers. */
  file: string;
  source: string;
  /** Home folder "~" expands to. */
  home: string;
  /** The host user who owns the VM; default: the home folder's last segment (/Users/NAME). */
  user?: string;
  /** Directory relative paths are resolved against. */
  cwd: string;
  /** `compile -o DIR`: checked to lie outside every read-write mount. */
  outputDir?: string;
}

export interface CompileOutcome {
  diagnostics: Diagnostic[];
  /** Present when there are no errors (warnings allowed). */
  policy?: Policy;
}

export function compilePolicy(input: CompileInput): CompileOutcome {
  const file = input.file.replace(/\\/g, '/');
  const { ast, diagnostics: syntax } = parsePolicy(input.source, file);
  if (hasErrors(syntax)) return { diagnostics: sortDiagnostics(syntax) };

  const policyPath = resolve(input.cwd, input.file);
  const context = {
    ast,
    home: input.home,
    policyPath,
    ...(input.outputDir !== undefined ? { outputDir: resolve(input.cwd, input.outputDir) } : {}),
  };
  const diagnostics = sortDiagnostics(CHECK_PASSES.flatMap((pass) => pass(context)));
  if (hasErrors(diagnostics)) return { diagnostics };

  const sha256 = createHash('sha256').update(input.source, 'utf8').digest('hex');
  const user = input.user ?? basename(input.home);
  const policy = lowerPolicy(ast, { file, absolutePath: policyPath, sha256 }, { user, home: input.home });
  return { diagnostics, policy };
}

export interface CompileFileOptions {
  home: string;
  user?: string;
  cwd: string;
  outputDir?: string;
}

// Reads a policy file and compiles it; an unreadable file is a diagnostic, not an exception.
export async function compilePolicyFile(file: string, options: CompileFileOptions): Promise<CompileOutcome & { source?: string }> {
  let source: string;
  try {
    source = await readFile(resolve(options.cwd, file), 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (error as Error).message;
    return {
      diagnostics: [
        errorAt(file, { line: 1, column: 1, endColumn: 1 }, {
          code: 'NP401',
          message: `Cannot read the policy file "${file}": ${reason}.`,
          hint: 'Check the path; the bundled policy is policy/nanoclaw.policy.',
        }),
      ],
    };
  }
  return { ...compilePolicy({ file, source, ...options }), source };
}
