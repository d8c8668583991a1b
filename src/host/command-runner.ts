// The one module that runs programs. Everything else builds `Cmd` data and hands it here, so tests
// point the runner at fake executables through PATH and read back exactly what would have run.

import { accessSync, closeSync, constants, openSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Cmd } from './command.ts';
import { missingProgram } from '../host/install-hint.ts';

export interface CmdResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface CommandRunner {
  /** The environment commands run with (PATH included); also says which services file pf reads. */
  readonly env?: NodeJS.ProcessEnv;
  /** Runs to completion within `c.timeoutMs` (default 60 s); a non-zero exit is a result, not an exception. */
  run(c: Cmd, options?: { timeoutMs?: number }): Promise<CmdResult>;
  /** Starts a long-lived process in its own process group, output appended to `logFile`. */
  spawn(c: Cmd, logFile: string): number;
  /** Whether `file` is found on the runner's PATH. */
  which(file: string): Promise<string | undefined>;
  /** Whether a process with this pid exists (and is not a zombie we own). */
  alive(pid: number): boolean;
  /** The command line of a running process, or undefined when it is gone. */
  commandLine(pid: number): Promise<string | undefined>;
  /** Sends a signal to a process group we started (falls back to the pid alone). */
  signal(pid: number, sig: NodeJS.Signals): void;
  /** Waits, in milliseconds; tests replace it to run fast. */
  sleep(ms: number): Promise<void>;
}

/** For a command whose meaning sets no longer bound (pfctl, ifconfig, tart list). */
export const DEFAULT_TIMEOUT_MS = 60_000;

// Builds the real runner over execa, with the environment (PATH included) the caller passes in.
export function createRunner(env: NodeJS.ProcessEnv): CommandRunner {
  const children = new Map<number, { exited: boolean }>();
  const runner: CommandRunner = {
    env,
    async run(c, options) {
      // Loaded on first use: execa costs more start-up than all of `check` (issue 9).
      const { execa } = await import('execa');
      const r = await execa(c.file, [...c.args], {
        env,
        extendEnv: false,
        reject: false,
        input: c.input ?? '',
        timeout: options?.timeoutMs ?? c.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        stripFinalNewline: false,
        // setsid(): no controlling terminal, so a sudo ticket cached on the owner's terminal does not apply.
        ...(c.noTerminal ? { detached: true } : {}),
      });
      const stderr = typeof r.stderr === 'string' ? r.stderr : '';
      // A program that is not there is one line with its install command, never execa's
      // two-line "Command failed with ENOENT … spawn tart ENOENT".
      const missing = (r as { code?: string }).code === 'ENOENT';
      const failed = r.exitCode === undefined ? `${missing ? missingProgram(c.file) : (r.shortMessage ?? 'could not run').split('\n')[0]}\n` : '';
      return {
        exitCode: r.exitCode ?? 127,
        stdout: typeof r.stdout === 'string' ? r.stdout : '',
        stderr: stderr + (stderr === '' ? failed : ''),
      };
    },
    spawn(c, logFile) {
      // node's spawn, not execa: an execa subprocess keeps the event loop alive even after
      // unref(), so a plain `enforce` would never exit while its bridges run.
      const fd = openSync(logFile, 'a', 0o600);
      try {
        // detached: its own process group, so a bridge outlives a non-supervised enforce and is
        // stopped as a group later (socat's forked children too).
        const child = spawn(c.file, [...c.args], { env, detached: true, stdio: ['ignore', fd, fd] });
        const pid = child.pid;
        if (pid === undefined) throw new Error(`could not start ${c.file}`);
        const entry = { exited: false };
        children.set(pid, entry);
        child.once('exit', () => {
          entry.exited = true;
        });
        child.once('error', () => {
          entry.exited = true;
        });
        child.unref();
        return pid;
      } finally {
        closeSync(fd);
      }
    },
    // In this process, as `command -v` would find a program: a shell per lookup cost a fork, and
    // a fork of this process is the dearest part of a command (issue 9).
    async which(file) {
      return findOnPath(file, env.PATH);
    },
    alive(pid) {
      if (children.get(pid)?.exited) return false;
      try {
        process.kill(pid, 0);
        return true;
      } catch (error) {
        return (error as NodeJS.ErrnoException).code === 'EPERM';
      }
    },
    async commandLine(pid) {
      if (!runner.alive(pid)) return undefined;
      const r = await runner.run({ file: 'ps', args: ['-o', 'command=', '-p', String(pid)] });
      const line = r.stdout.trim();
      return r.exitCode === 0 && line !== '' ? line : undefined;
    },
    signal(pid, sig) {
      try {
        process.kill(-pid, sig);
      } catch {
        try {
          process.kill(pid, sig);
        } catch {
          // already gone
        }
      }
    },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
  return runner;
}

/** The first executable regular file `file` in the PATH directories (`command -v` for a program), or undefined. */
export function findOnPath(file: string, path: string | undefined): string | undefined {
  if (file === '' || file.includes('/')) return undefined;
  for (const dir of (path ?? '').split(':')) {
    if (dir === '') continue;
    const candidate = join(dir, file);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
