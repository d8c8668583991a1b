// `enforce`: under the VM's lock, either find the policy already in force (and change nothing), or
// run the preflight and then the plan, all or nothing.

import { isOurBridge } from './bridge-step.ts';
import { isOurProxy } from './proxy-step.ts';
import { acquireLock, LockedError, type Lock } from './lock.ts';
import { runPlan, type PlanOutcome } from './run-plan.ts';
import { runPreflight, type PreflightProblem } from './preflight.ts';
import type { Session } from './session.ts';
import { ensureStateDir, readState, removeState, writeState, type EnforceState } from './state.ts';

export type ApplyResult =
  | { kind: 'locked'; message: string }
  | { kind: 'unchanged'; state: EnforceState }
  | { kind: 'stale'; reason: string }
  | { kind: 'preflight'; problems: PreflightProblem[] }
  | { kind: 'applied'; state: EnforceState }
  | { kind: 'failed'; outcome: Extract<PlanOutcome, { ok: false }>; state: EnforceState };

// Takes the VM's lock, or reports who holds it.
export function lockSession(session: Session): Lock | { kind: 'locked'; message: string } {
  ensureStateDir(session.stateDir);
  try {
    return acquireLock(session.stateDir);
  } catch (error) {
    if (error instanceof LockedError) return { kind: 'locked', message: error.message };
    throw error;
  }
}

// Applies the policy; the caller releases `lock` (supervise keeps it).
export async function applyLocked(session: Session): Promise<ApplyResult> {
  const existing = readState(session.stateDir);
  if (existing !== undefined) {
    const reason = await whyNotCurrent(session, existing);
    if (reason === undefined) return { kind: 'unchanged', state: existing };
    return { kind: 'stale', reason };
  }
  const problems = await runPreflight(session.plan.preflight, { runner: session.runner, env: session.options.env });
  if (problems.length > 0) return { kind: 'preflight', problems };

  const state = session.fresh();
  const ctx = session.context(state);
  const persist = () => writeState(session.stateDir, ctx.state);
  persist();
  const outcome = await runPlan(session.plan.steps, ctx, persist);
  if (outcome.ok) {
    ctx.state.complete = true;
    persist();
    return { kind: 'applied', state: ctx.state };
  }
  // Everything undone: no state is left behind. An undo failed: keep it, so --down can finish.
  if (outcome.undoFailures.length === 0) removeState(session.stateDir);
  return { kind: 'failed', outcome, state: ctx.state };
}

// Why a recorded state is not this policy fully in force, or undefined when it is.
export async function whyNotCurrent(session: Session, state: EnforceState): Promise<string | undefined> {
  const { plan, policy } = session;
  if (!state.complete) return 'an earlier enforce did not finish';
  if (state.backend !== plan.backend) return `it was applied with the "${state.backend}" backend`;
  if (state.policySha256 !== policy.source.sha256) return 'the policy changed since it was applied';
  if (state.rulesSha256 !== plan.expectedRulesHash(state)) return 'the compiled rules changed since they were loaded';
  const ctx = session.context(state);
  const rules = await plan.rulesProblem(ctx);
  if (rules !== undefined) return rules;
  for (const bridge of policy.bridges) {
    const entry = state.bridges.find((b) => b.name === bridge.name);
    if (entry === undefined || entry.listen !== bridge.listen) return `the bridge "${bridge.name}" was not started`;
    if (entry.range !== plan.bridgeRange(state)) return `the bridge "${bridge.name}" accepts ${entry.range}`;
    if (!(await isOurBridge(session.runner, entry))) return `the bridge "${bridge.name}" (pid ${entry.pid}) is not running`;
  }
  if (policy.proxy) {
    const proxy = state.proxy;
    if (proxy === undefined || proxy.listen.port !== policy.proxy.listen) return 'the egress proxy was not started';
    if (proxy.allowClients[0] !== plan.bridgeRange(state)) return `the egress proxy accepts ${proxy.allowClients.join(', ')}`;
    if (!(await isOurProxy(session.runner, proxy))) return `the egress proxy (pid ${proxy.pid}) is not running`;
  }
  if (state.vmStarted && state.vmPid !== undefined && !session.runner.alive(state.vmPid)) return 'the VM enforce started has exited';
  return undefined;
}
