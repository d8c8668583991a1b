// The enforce session the workflow commands (snapshots, rollback, status) open: the same policy,
// backend, state directory and runner enforce uses, so they read and change exactly its state.

import { Option, type Command } from 'commander';
import type { Session } from '../enforce/session.ts';
import type { Backend } from '../formats/enforce-state.ts';
import type { Io } from './io.ts';
import { policyFailure } from './command-failure.ts';

export interface WorkflowFlags {
  backend?: Backend;
  stateDir?: string;
  home?: string;
  json?: boolean;
}

// The options every workflow command shares with enforce.
export function addSessionOptions(command: Command): Command {
  return command
    .addOption(new Option('--backend <name>', 'pf (macOS, default there) or nft (Linux, default elsewhere)').choices(['pf', 'nft']))
    .option('--state-dir <dir>', 'the state directory enforce used (default as for enforce)')
    .option('--home <dir>', 'folder "~" in mount paths stands for (default: your home)');
}

// Opens the session; a policy with errors is a CommandFailure (exit 1, JSON under --json).
export async function openWorkflowSession(file: string, flags: WorkflowFlags, io: Io, name: string): Promise<Session> {
  const backend: Backend = flags.backend ?? (process.platform === 'darwin' ? 'pf' : 'nft');
  const { openSession } = await import('../enforce/session.ts'); // loaded when used, not at start-up (issue 9)
  const opened = await openSession({
    policyFile: file,
    backend,
    ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
    start: backend === 'pf',
    ...(flags.home ? { home: flags.home } : {}),
    waitSeconds: 60,
    env: io.env,
    cwd: process.cwd(),
    log: (message) => io.stderr.write(`${name}: ${message}\n`),
  });
  if ('session' in opened) return opened.session;
  throw policyFailure(file, opened);
}
