// Before the rules go, the VM goes: --down, a rollback and a stopping supervisor stop the VM (or
// confirm it is stopped) first, whoever started it. A VM that cannot be stopped keeps its anchor:
// the step that calls this halts the undo on failure (Step.haltUndoOnFailure).

import { cmd, type Cmd } from '../host/command.ts';
import { pollUntil, processGone } from './process-gone.ts';
import { StepError, type StepContext } from './step.ts';
import { tartVmState } from './tart-vm-state.ts';

/** `tart stop`: Stop.swift waits 30 s (its --timeout default) before SIGKILL; then a margin. */
export const TART_STOP_TIMEOUT_MS = (30 + 30) * 1000;

export const tartStop = (vm: string): Cmd => ({ ...cmd('tart', 'stop', vm), timeoutMs: TART_STOP_TIMEOUT_MS });

/** How long a VM may take to shut down after `tart stop`. */
const STOP_LIMIT_MS = 30_000;

// Stops the VM if it runs and waits (polling the exact condition) until it is down.
export async function ensureVmStopped(ctx: StepContext, vm: string): Promise<void> {
  const { runner } = ctx;
  // The `tart run` enforce started: the VM is down exactly when that process is gone.
  const pid = ctx.state.vmStarted ? ctx.state.vmPid : undefined;
  const ours = () => pid !== undefined && !processGone(runner, pid);
  const stopped = async () => !ours() && (pid !== undefined || (await tartVmState(runner, vm)) === 'not-running');
  const done = () => {
    ctx.state.vmStarted = false;
    ctx.state.vmPid = undefined;
  };
  if (!ours()) {
    const now = await tartVmState(runner, vm);
    if (now === 'not-running' || (now === 'unknown' && pid !== undefined)) return done();
    if (now === 'unknown') {
      throw new StepError(`Could not tell whether the VM "${vm}" is stopped ("tart list --format json" failed), so its rules stay loaded.`, `Stop the VM (tart stop ${vm}), then run enforce --down again.`);
    }
  }
  const r = await runner.run(tartStop(vm));
  if (r.exitCode !== 0 && ours()) runner.signal(pid!, 'SIGTERM');
  if (await pollUntil(runner, stopped, r.exitCode === 0 ? STOP_LIMIT_MS : 5000)) return done();
  const detail = r.exitCode === 0 ? 'returned' : `failed (exit ${r.exitCode}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n')[0]}` : ''})`;
  throw new StepError(
    `"tart stop ${vm}" ${detail} and the VM${pid !== undefined ? ` (pid ${pid})` : ''} still runs, so its rules stay loaded.`,
    `Stop the VM (tart stop ${vm}, or quit it), then run enforce --down again.`,
  );
}
