// The compile session: parse, run every check, and lower — or return every problem at once.
// Stages stop on errors (a syntax error makes meaning checks guess), but within a stage every
// problem of the file is reported.

import { basename, resolve } from 'node:path';
import { parsePolicy } from '../grammar/parse-policy.ts';
import { decodeUtf8 } from '../grammar/decode-utf8.ts';
import { hasErrors, sortDiagnostics, type Diagnostic } from '../diagnostics/diagnostic.ts';
import { CHECK_PASSES } from './passes/index.ts';
import { lowerPolicy } from './lower-policy.ts';
import type { Policy } from './policy.ts';
import { readPolicyFile } from './read-policy-file.ts';
import { sha256Hex } from '../lazy-builtins.ts';
import { lexicalPath, realPathResolver, type RealPath } from './paths/real-path.ts';
import { tuneV8ForPolicy } from './v8-tuning.ts';
import { findOption, mounts } from './check-context.ts';
import { mountPaths } from './paths/usable-mount-path.ts';
import { SHARE_SCAN_LIMITS, scanShareSecrets, type ShareScanLimits, type ShareToScan } from './paths/scan-share-secrets.ts';
import { hostFileFacts, type FileFacts } from './paths/file-facts.ts';

export interface CompileInput {
  /** The policy path as the user gave it: printed in messages and artifact headers. */
  file: string;
  source: string;
  /** The file's bytes, when it came from a file: the policy hash is of these. */
  bytes?: Uint8Array;
  /** Home folder "~" expands to. */
  home: string;
  /** The host user who owns the VM; default: the home folder's last segment (/Users/NAME). */
  user?: string;
  /** Directory relative paths are resolved against. */
  cwd: string;
  /** `compile -o DIR`: checked to lie outside every read-write mount. */
  outputDir?: string;
  /** Resolves symlinks for the cage checks; default: paths as written (pure). */
  realPath?: RealPath;
  /** false: check only, build no Policy (`check` needs none). */
  lower?: boolean;
  /** Look inside every share for secret-looking files (reads the disk; true: the default bounds). */
  scanShares?: boolean | ShareScanLimits;
  /** Owner and mode of secret files; default: not checked (pure). */
  fileFacts?: FileFacts;
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
    realPath: input.realPath ?? lexicalPath,
    ...(input.fileFacts !== undefined ? { fileFacts: input.fileFacts } : {}),
    ...(input.outputDir !== undefined ? { outputDir: resolve(input.cwd, input.outputDir) } : {}),
  };
  let diagnostics = sortDiagnostics(CHECK_PASSES.flatMap((pass) => pass(context)));
  if (input.scanShares && !hasErrors(diagnostics)) {
    diagnostics = sortDiagnostics([...diagnostics, ...scanShareSecrets(file, sharesToScan(ast, input.home), input.scanShares === true ? SHARE_SCAN_LIMITS : input.scanShares)]);
  }
  if (hasErrors(diagnostics) || input.lower === false) return { diagnostics };

  // The hash is of the bytes on disk, so two files that differ anywhere never share one.
  // The hash is computed when first read (an artifact header, the manifest): `check` never reads
  // it, and node:crypto is a large part of start-up (issue 9).
  let sha256: string | undefined;
  const bytes = input.bytes ?? input.source;
  const source = { file, absolutePath: policyPath, get sha256() { return (sha256 ??= sha256Hex(bytes)); } };
  const user = input.user ?? basename(input.home);
  const policy = lowerPolicy(ast, source, { user, home: input.home });
  return { diagnostics, policy };
}

// The shares the scan looks into: every mount but those whose line says "allow-sensitive" (the
// owner has said the folder holds secrets and is to be shared as it is).
function sharesToScan(ast: import('../grammar/ast.ts').PolicyAst, home: string): ShareToScan[] {
  const list = mounts(ast);
  const paths = mountPaths(ast, home).path;
  const out: ShareToScan[] = [];
  for (let i = 0; i < list.length; i++) {
    const m = list[i]!;
    const path = paths[i];
    if (path === undefined || findOption(m, 'allow-sensitive')) continue;
    out.push({ name: m.name.value, path, mode: m.mode.value, span: m.path.span });
  }
  return out;
}

export interface CompileFileOptions {
  home: string;
  user?: string;
  cwd: string;
  outputDir?: string;
  /** Default: symlinks resolved on this host. */
  realPath?: RealPath;
  /** false: check only, build no Policy. */
  lower?: boolean;
  scanShares?: boolean | ShareScanLimits;
  /** Default: this host's file system. */
  fileFacts?: FileFacts;
}

// Reads a policy file and compiles it; an unreadable, odd or non-UTF-8 file is a diagnostic.
export async function compilePolicyFile(file: string, options: CompileFileOptions): Promise<CompileOutcome & { source?: string }> {
  const read = await readPolicyFile(resolve(options.cwd, file), file.replace(/\\/g, '/'));
  if (!read.ok) return { diagnostics: [read.diagnostic] };
  tuneV8ForPolicy(read.bytes.length);
  const decoded = decodeUtf8(read.bytes, file.replace(/\\/g, '/'));
  // Shown with U+FFFD where the bytes were bad, only for the snippet under each error.
  if (decoded.source === undefined) return { diagnostics: decoded.diagnostics, source: read.bytes.toString('utf8') };
  const source = decoded.source;
  return { ...compilePolicy({ file, source, bytes: read.bytes, realPath: realPathResolver(), ...withFileFacts(hostFileFacts()), ...options }), source };
}

// The field only when there are facts (exactOptionalPropertyTypes).
function withFileFacts(facts: FileFacts | undefined): { fileFacts?: FileFacts } {
  return facts ? { fileFacts: facts } : {};
}
