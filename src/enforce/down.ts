// `enforce --down`: remove everything enforce applied for the VM — every step's undo, last first,
// from the recorded state. Each undo is safe when its part is already gone, so running it twice (or
// with no state at all) is fine: the anchor is flushed / the table deleted either way.

import { stopBridge } from './bridge-step.ts';
import { stopProxy } from './proxy-step.ts';
import { stopCollector } from './firewall-log-step.ts';
import { undoSteps, type UndoFailure } from './run-plan.ts';
import type { Session } from './session.ts';
import { readState, removeState, writeState, type EnforceState } from '../formats/enforce-state.ts';
import { dropVoidTokens } from './void-tokens.ts';

export interface DownResult {
  /** There was a recorded state to remove. */
  hadState: boolean;
  undone: string[];
  failures: UndoFailure[];
}

// Tears everything down; the caller holds the lock.
export async function downLocked(session: Session, recorded: EnforceState | undefined = readState(session.stateDir)): Promise<DownResult> {
  const hadState = recorded !== undefined;
  // Tokens from before the last boot are void: never released blindly (void-tokens.ts).
  const state = recorded === undefined ? undefined : dropVoidTokens(session, recorded).state;
  const ctx = session.context(state ?? session.fresh());
  // Every step, whatever the options now: the VM is stopped only if the state says enforce started it.
  const steps = session.plan.steps;
  const persist = () => {
    if (hadState) writeState(session.stateDir, ctx.state);
  };
  const { undone, failures } = await undoSteps(steps, ctx, persist);
  // Bridges a state recorded under names the policy no longer has: stop them too.
  for (const entry of [...ctx.state.bridges]) {
    try {
      await stopBridge(ctx.runner, entry);
      ctx.state.bridges = ctx.state.bridges.filter((b) => b !== entry);
      undone.push(`bridge:${entry.name}`);
    } catch (error) {
      failures.push({ step: `bridge:${entry.name}`, error: (error as Error).message, manual: [`kill ${entry.pid}`] });
    }
    persist();
  }
  // A proxy a state recorded although the policy no longer lists egress: stop it too.
  const proxy = ctx.state.proxy;
  if (proxy !== undefined) {
    try {
      await stopProxy(ctx.runner, proxy);
      ctx.state.proxy = undefined;
      undone.push('proxy');
    } catch (error) {
      failures.push({ step: 'proxy', error: (error as Error).message, manual: [`kill ${proxy.pid}`] });
    }
    persist();
  }
  const collector = ctx.state.firewallLog;
  if (collector !== undefined) {
    try {
      await stopCollector(ctx.runner, collector);
      ctx.state.firewallLog = undefined;
      undone.push('firewall-log');
    } catch (error) {
      failures.push({ step: 'firewall-log', error: (error as Error).message, manual: [`kill ${collector.pid}`] });
    }
    persist();
  }
  if (failures.length === 0) removeState(session.stateDir);
  return { hadState, undone, failures };
}
