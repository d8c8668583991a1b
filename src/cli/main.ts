// The command line: parses argv with commander, runs one command, and turns every outcome into
// output and an exit code. The only place that knows about exit codes and stack traces.

import { Command, CommanderError } from 'commander';
import { EXIT, type Io } from './io.ts';
import { registerCommands } from './commands.ts';
import { UsageError } from './usage-error.ts';
import { CommandFailure } from './command-failure.ts';
import { reportDiagnostics } from './report-diagnostics.ts';

export { UsageError };
export { allowV8Tuning } from '../compiler/v8-tuning.ts';
export { fdOutput } from './fd-output.ts';

export async function main(argv: readonly string[], io: Io): Promise<number> {
  endQuietlyOnClosedPipe(io);
  // --json promises JSON on stdout whatever happens, usage errors included.
  const json = argv.slice(2).includes('--json');
  const program = new Command('nanopolicy');
  let exitCode: number = EXIT.ok;
  program
    .description('Cage a Tart macOS VM: compile a policy into pf, Softnet, socat and tart artifacts, apply it, and prove it holds.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => {
        if (json) io.stdout.write(`${JSON.stringify({ ok: false, error: s.replace(/^error: /, '').trim(), usage: true })}\n`);
        else write(s);
      },
    })
    .exitOverride();
  // The path the owner started nanopolicy as (a Homebrew or npm prefix's bin/nanopolicy): compile
  // names it in the boot job, which must run this program, not one assumed at /usr/local/bin.
  const started = argv[1];
  const withProgram = started !== undefined && started.startsWith('/') ? { ...io, program: started } : io;
  registerCommands(program, withProgram, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here with exit code 0.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof CommandFailure) {
      reportFailure(error, io, json);
      return error.exitCode;
    }
    if (error instanceof UsageError) {
      if (json) io.stdout.write(`${JSON.stringify({ ok: false, error: error.message, usage: true })}\n`);
      else io.stderr.write(`error: ${error.message}\n`);
      return EXIT.usage;
    }
    if (json) io.stdout.write(`${JSON.stringify({ ok: false, error: `internal error: ${(error as Error)?.message ?? String(error)}`, internal: true })}\n`);
    io.stderr.write(`nanopolicy: internal error: ${(error as Error)?.message ?? String(error)}\n`);
    io.stderr.write('This is a bug in nanopolicy; set NANOPOLICY_DEBUG=1 for details.\n');
    if (io.env.NANOPOLICY_DEBUG) io.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
    return EXIT.internal;
  }
  return exitCode;
}

// A command's failure, printed the same way for every command (command-failure.ts).
function reportFailure(failure: CommandFailure, io: Io, json: boolean): void {
  const { hint, file, diagnostics, source } = failure.details;
  if (json) {
    io.stdout.write(`${JSON.stringify({ ok: false, error: failure.message, ...(hint ? { hint } : {}), ...(file ? { file } : {}), ...(diagnostics ? { diagnostics } : {}) }, null, 2)}\n`);
    return;
  }
  if (diagnostics && diagnostics.length > 0) reportDiagnostics(io, diagnostics, file ?? '', source);
  else io.stderr.write(`error: ${failure.message}\n${hint ? `  hint: ${hint}\n` : ''}`);
}

// Output into a closed pipe (`nanopolicy verify --help | head -1`) is the reader's choice, not an
// error: without a listener, Node turns EPIPE into an uncaught exception with a stack trace.
function endQuietlyOnClosedPipe(io: Io): void {
  for (const stream of [io.stdout, io.stderr]) {
    const emitter = stream as { on?: (event: string, listener: (error: NodeJS.ErrnoException) => void) => unknown; listenerCount?: (event: string) => number };
    if (typeof emitter.on !== 'function' || (emitter.listenerCount?.('error') ?? 0) > 0) continue;
    emitter.on('error', (error) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
}

declare const __NANOPOLICY_VERSION__: string | undefined;
const VERSION = typeof __NANOPOLICY_VERSION__ === 'string' ? __NANOPOLICY_VERSION__ : '0.0.0-dev';
