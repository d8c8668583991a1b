// The one place the host verifier runs programs; passed in, so tests can record and fake commands.

import { missingProgram } from './install-hint.ts';

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export type RunCommand = (argv: readonly string[], options?: { input?: string; timeoutMs?: number }) => Promise<CommandResult>;

// Runs argv without a shell; never rejects on a failing command (a missing program is exit 127).
export const runCommand: RunCommand = async (argv, options = {}) => {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('empty command');
  // Loaded on first use, so commands that run nothing do not pay for execa at start-up.
  const { execa } = await import('execa');
  const r = await execa(file, args, {
    reject: false,
    timeout: options.timeoutMs ?? 15_000,
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
  });
  const missing = (r as { code?: string }).code === 'ENOENT';
  return { exitCode: missing ? 127 : (r.exitCode ?? 1), stdout: String(r.stdout ?? ''), stderr: missing ? missingProgram(file) : String(r.stderr ?? '') };
};
