// Runs commands for the benchmark: wall time measured here, peak memory (max RSS) by /usr/bin/time,
// optionally inside a lab network namespace. One sample per run; a series interleaves its steps so
// a subject and its reference see the same machine load.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Cmd {
  argv: readonly string[];
  /** Network namespace to run in (`ip netns exec NS`), for lab rows. */
  ns?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Exit codes that count as a normal run (default [0]); anything else stops the benchmark. */
  exitCodes?: readonly number[];
  timeoutMs?: number;
  /** Keep the whole stdout in the sample (for commands that report figures of their own). */
  keepStdout?: boolean;
}

export interface Sample {
  ms: number;
  /** Peak resident memory of the process in KiB, when /usr/bin/time is there to report it. */
  peakKb?: number;
  stdout?: string;
}

const TIME = '/usr/bin/time';
const scratch = mkdtempSync(join(tmpdir(), 'np-bench-'));
process.once('exit', () => rmSync(scratch, { recursive: true, force: true }));

// The argv actually spawned: `ip netns exec NS` (if any), then /usr/bin/time writing %M to a file.
export function wrap(cmd: Cmd, peakFile: string | undefined): string[] {
  const timed = peakFile ? [TIME, '-f', '%M', '-o', peakFile, ...cmd.argv] : [...cmd.argv];
  return cmd.ns ? ['ip', 'netns', 'exec', cmd.ns, ...timed] : timed;
}

// One run; rejects with the command's output tail when it exits with an unexpected code.
export function runOnce(cmd: Cmd): Promise<Sample> {
  const peakFile = existsSync(TIME) ? join(scratch, `peak-${process.hrtime.bigint()}`) : undefined;
  const [file, ...args] = wrap(cmd, peakFile);
  return new Promise((resolve, reject) => {
    let tail = '';
    let stdout = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-6000);
    };
    const started = performance.now();
    const child = spawn(file!, args, { cwd: cmd.cwd, env: cmd.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => {
      if (cmd.keepStdout) stdout += chunk.toString();
      keep(chunk);
    });
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), cmd.timeoutMs ?? 300_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const ms = performance.now() - started;
      clearTimeout(timer);
      const ok = code !== null && (cmd.exitCodes ?? [0]).includes(code);
      if (!ok) return reject(new Error(`${cmd.argv.join(' ')} exited ${code ?? signal}:\n${tail}`));
      resolve({ ms, ...readPeak(peakFile), ...(cmd.keepStdout ? { stdout } : {}) });
    });
  });
}

// The %M line /usr/bin/time wrote (the last line: a failing command adds a status line before it).
function readPeak(file: string | undefined): { peakKb?: number } {
  if (!file) return {};
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    rmSync(file, { force: true });
    const kb = Number(lines[lines.length - 1]);
    return Number.isFinite(kb) ? { peakKb: kb } : {};
  } catch {
    return {};
  }
}

export interface Step {
  cmd: Cmd;
  /** Runs before the step (untimed), e.g. to put the lab into the state the step starts from. */
  before?: () => Promise<void>;
}

// Runs every step in order, `runs` times (after `warmup` untimed rounds); samples per step label.
// `afterRound` runs after each timed round, untimed (progress, the machine gauge).
export async function runSeries(steps: Record<string, Step>, runs: number, warmup = 1, afterRound?: (i: number) => void | Promise<void>): Promise<Record<string, Sample[]>> {
  const out: Record<string, Sample[]> = Object.fromEntries(Object.keys(steps).map((k) => [k, []]));
  for (let i = -warmup; i < runs; i++) {
    for (const [label, step] of Object.entries(steps)) {
      await step.before?.();
      const s = await runOnce(step.cmd);
      if (i >= 0) out[label]!.push(s);
    }
    if (i >= 0) await afterRound?.(i);
  }
  return out;
}
