// `enforce`: under the VM's lock, either find the policy already in force (and change nothing), or
// run the preflight and then the plan, all or nothing. A recorded state that no longer holds is
// looked at part by part: nothing of it standing (a reboot, a crash and a VM shut down) is a fresh
// start; parts standing with the VM stopped are removed first (safe: no VM to expose); parts
// standing next to a running VM are refused with the exact commands that fix it — except under
// --supervise, which takes over a state it can repair (a bridge or the proxy died while nothing
// supervised it) and otherwise fails closed: it takes everything down, as when the rules are lost.

import { isOurBridge } from './bridge-step.ts';
import { isOurProxy } from './proxy-step.ts';
import { isOurCollector, stopCollector } from './firewall-log-step.ts';
import { downLocked, type DownResult } from './down.ts';
import { supervisable } from './supervisable.ts';
import { tartVmState } from './tart-vm-state.ts';
import { acquireLock, LockedError, type Lock } from './lock.ts';
import { runPlan, type PlanOutcome } from './run-plan.ts';
import { runPreflight, type PreflightProblem } from './preflight.ts';
import type { Session } from './session.ts';
import { ensureStateDir, readState, removeState, writeState, type EnforceState } from '../formats/enforce-state.ts';
import { dropVoidTokens } from './void-tokens.ts';

export type ApplyResult =
  | { kind: 'locked'; message: string }
  | { kind: 'unchanged'; state: EnforceState }
  | { kind: 'stale'; reason: string; standing: string[] }
  | { kind: 'preflight'; problems: PreflightProblem[] }
  | { kind: 'applied'; state: EnforceState; earlier?: Earlier }
  | { kind: 'failed'; outcome: Extract<PlanOutcome, { ok: false }>; state: EnforceState }
  /** --supervise over a standing state it can repair: `repairs` are what it restarts or reloads first. */
  | { kind: 'adopted'; state: EnforceState; reason: string; repairs: string[] }
  /** --supervise over a standing state it cannot repair: everything was taken down (or tried). */
  | { kind: 'failed-closed'; reason: string; down: DownResult };

export interface ApplyOptions {
  /** The caller supervises next (--supervise): adopt a repairable standing state, fail closed on the rest. */
  supervise?: boolean;
}

/** What became of an earlier enforce's state that no longer held. */
export interface Earlier {
  /** fresh: nothing of it stood; repaired: what stood was removed first (the VM was stopped). */
  how: 'fresh' | 'repaired';
  reason: string;
  removed: string[];
  /** pf reference tokens recorded before the last reboot: void, dropped from the record, never given to `pfctl -X`. */
  voidTokens?: string[];
}

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
export async function applyLocked(session: Session, options: ApplyOptions = {}): Promise<ApplyResult> {
  let existing = readState(session.stateDir);
  let earlier: Earlier | undefined;
  if (existing !== undefined) {
    const reason = await whyNotCurrent(session, existing);
    if (reason === undefined) return { kind: 'unchanged', state: existing };
    const dropped = dropVoidTokens(session, existing);
    existing = dropped.state;
    const voidTokens = dropped.dropped;
    const standing = await whatStands(session, existing);
    if (standing.parts.length === 0) {
      session.options.log(`the earlier enforce recorded in ${session.stateDir} left nothing standing (${reason}; after a reboot or a crash): starting afresh`);
      // A collector left running is only a view, never part of the cage, but it holds the nflog
      // group the new one needs: stop it.
      if (existing.firewallLog !== undefined) await stopCollector(session.runner, existing.firewallLog).catch(() => {});
      removeState(session.stateDir);
      earlier = { how: 'fresh', reason, removed: [], ...(voidTokens.length ? { voidTokens } : {}) };
    } else if (standing.vmStopped) {
      session.options.log(`the earlier enforce no longer holds (${reason}) and the VM is stopped: removing what is left of it (${standing.parts.join('; ')}) first`);
      const down = await downLocked(session, existing);
      if (down.failures.length > 0) return { kind: 'stale', reason: `${reason}; removing what was left failed: ${down.failures.map((f) => f.error).join('; ')}`, standing: standing.parts };
      earlier = { how: 'repaired', reason, removed: standing.parts, ...(voidTokens.length ? { voidTokens } : {}) };
    } else if (options.supervise) {
      // Under launchd a refusal would leave the cage standing with nothing watching it (and
      // launchd retrying a supervisor that refuses): repair what is ours to repair, or fail closed.
      const over = await supervisable(session, existing);
      if (over.ok) {
        session.options.log(`the earlier enforce no longer holds (${reason}) but its rules are ours: supervising it, and first repairing ${over.repairs.join(', ') || 'nothing'}`);
        writeState(session.stateDir, existing);
        return { kind: 'adopted', state: existing, reason, repairs: over.repairs };
      }
      session.options.log(`the earlier enforce no longer holds (${over.reason}) and a supervisor cannot repair that: taking everything down (${standing.parts.join('; ')})`);
      return { kind: 'failed-closed', reason: over.reason, down: await downLocked(session, existing) };
    } else {
      return { kind: 'stale', reason, standing: standing.parts };
    }
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
    return { kind: 'applied', state: ctx.state, ...(earlier ? { earlier } : {}) };
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
  if (plan.steps.some((s) => s.id === 'firewall-log')) {
    const collector = state.firewallLog;
    if (collector === undefined || !(await isOurCollector(session.runner, collector))) return 'the firewall-log collector is not running';
  }
  if (state.vmStarted && state.vmPid !== undefined && !session.runner.alive(state.vmPid)) return 'the VM enforce started has exited';
  return undefined;
}

// What of a recorded state still stands: the rules loaded, a recorded bridge still our socat, the
// VM running. `vmStopped` only when that is known for sure (the nft backend never runs the VM).
export async function whatStands(session: Session, state: EnforceState): Promise<{ parts: string[]; vmStopped: boolean }> {
  const parts: string[] = [];
  // Tokens taken in this boot may still hold pf enabled: released by the removal (--down) path.
  if (state.tokens.length > 0) parts.push(`the pf reference token(s) ${state.tokens.join(' ')} may still be held (taken since the last boot)`);
  const rules = await session.plan.loadedRules(session.runner);
  if (rules !== undefined && rules.trim() !== '' && hasRules(session.plan.backend, rules)) parts.push(`${session.plan.rulesName} is loaded`);
  for (const entry of state.bridges) {
    if (await isOurBridge(session.runner, entry)) parts.push(`the bridge "${entry.name}" (pid ${entry.pid}) runs`);
  }
  let vmStopped = false;
  if (session.plan.backend === 'pf') {
    const vm = await tartVmState(session.runner, session.policy.vm);
    if (vm === 'running') parts.push(`the VM "${session.policy.vm}" runs`);
    if (vm === 'unknown') parts.push(`the VM "${session.policy.vm}" may run ("tart list" failed)`);
    vmStopped = vm === 'not-running';
  }
  return { parts, vmStopped };
}

// pf prints nothing for an empty anchor; nft prints an empty table as its header alone.
function hasRules(backend: EnforceState['backend'], text: string): boolean {
  return backend === 'pf' ? /^\s*(pass|block|match|anchor|nat|rdr)\b/m.test(text) : /^\s*(table|chain)\b/m.test(text);
}
