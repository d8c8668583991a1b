// `nanopolicy enforce --supervise` in the lab's host namespace, and the soak standing in for
// launchd around it: started once (it applies the policy, then supervises), started again at once
// whenever the chaos kills it (KeepAlive), stopped with SIGTERM at the end (it tears down).

import type { ResultPromise } from 'execa';
import { cliArgs } from '../helpers/cli-process.ts';
import type { SoakLab } from './soak-lab.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface SupervisorRun {
  pid: number;
  /** Its stdout and stderr so far. */
  output: () => string;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<number | string>;
}

export class Supervisor {
  current: SupervisorRun | undefined;
  /** Every run's output, in order, for the report's evidence. */
  readonly logs: string[] = [];

  constructor(
    private readonly s: SoakLab,
    private readonly intervalSeconds: number,
  ) {}

  // Starts one run and waits until it says the policy is in force (it then supervises), or ends.
  async start(timeoutMs: number): Promise<{ ok: boolean; ms: number; why?: string }> {
    const started = performance.now();
    const cli = await cliArgs();
    const child: ResultPromise = this.s.lab.spawn(
      'host',
      ['node', ...cli, 'enforce', this.s.policyFile, '--backend', 'nft', '--vm-address', this.s.lab.vmAddress, '--state-dir', this.s.stateDir, '--home', this.s.lab.dir, '--wait', '5', '--supervise', '--interval', String(this.intervalSeconds)],
      { cwd: ROOT, env: { NO_COLOR: '1', HOME: this.s.lab.dir }, all: true, buffer: false },
    );
    let out = '';
    child.all?.on('data', (d: Buffer) => (out += d.toString()));
    const index = this.logs.push('') - 1;
    const exited = Promise.resolve(child).then((r) => {
      this.logs[index] = out;
      return r.exitCode ?? r.signal ?? 'unknown';
    });
    const run: SupervisorRun = { pid: child.pid!, output: () => out, exited };
    this.current = run;
    let ended: number | string | undefined;
    void exited.then((code) => (ended = code));
    while (performance.now() - started < timeoutMs) {
      if (/in force/.test(out)) return { ok: true, ms: performance.now() - started };
      if (ended !== undefined) return { ok: false, ms: performance.now() - started, why: `enforce --supervise ended (${ended}): ${lastLines(out)}` };
      await new Promise((r) => setTimeout(r, 50));
    }
    return { ok: false, ms: performance.now() - started, why: `enforce --supervise did not say "in force" in ${timeoutMs} ms: ${lastLines(out)}` };
  }

  // SIGKILL, as a crash would; waits until it is gone.
  async kill(): Promise<void> {
    const run = this.current;
    if (!run) return;
    try {
      process.kill(run.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await run.exited;
  }

  // SIGTERM, as the owner's launchctl stop would: it tears everything down. Its exit code and output.
  async stop(timeoutMs: number): Promise<{ code: number | string; output: string }> {
    const run = this.current;
    if (!run) return { code: 'not running', output: '' };
    try {
      process.kill(run.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    const code = await Promise.race([run.exited, new Promise<string>((r) => setTimeout(() => r('timeout'), timeoutMs).unref())]);
    if (code === 'timeout') await this.kill();
    return { code, output: run.output() };
  }
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ');
}
