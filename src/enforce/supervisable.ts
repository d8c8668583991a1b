// Whether `enforce --supervise`, started over a recorded state that no longer holds while the VM
// runs, may take that state over: the same policy, backend and rules, applied to the end, with only
// what a supervisor repairs anyway gone wrong — a bridge or the proxy that died while nothing
// supervised it (under launchd: the supervisor was killed, and one of its parts with it), or rules
// that need putting back. Anything else (another policy, an enforce that never finished, rules
// compiled differently) is not the supervisor's to repair: the caller fails closed.

import { isOurBridge } from './bridge-step.ts';
import { isOurProxy } from './proxy-step.ts';
import type { Session } from './session.ts';
import type { EnforceState } from '../formats/enforce-state.ts';

export type Supervisable = { ok: true; repairs: string[] } | { ok: false; reason: string };

export async function supervisable(session: Session, state: EnforceState): Promise<Supervisable> {
  const { plan, policy } = session;
  if (!state.complete) return { ok: false, reason: 'an earlier enforce did not finish' };
  if (state.backend !== plan.backend) return { ok: false, reason: `it was applied with the "${state.backend}" backend` };
  if (state.policySha256 !== policy.source.sha256) return { ok: false, reason: 'the policy changed since it was applied' };
  if (state.rulesSha256 !== plan.expectedRulesHash(state)) return { ok: false, reason: 'the compiled rules changed since they were loaded' };
  // The VM enforce started has exited: nothing to supervise (apply removes what is left).
  if (state.vmStarted && state.vmPid !== undefined && !session.runner.alive(state.vmPid)) return { ok: false, reason: 'the VM enforce started has exited' };
  const repairs: string[] = [];
  const rules = await plan.rulesProblem(session.context(state));
  if (rules !== undefined) repairs.push(`the rules (${rules})`);
  for (const bridge of policy.bridges) {
    const entry = state.bridges.find((b) => b.name === bridge.name);
    // A bridge the supervisor took down (its name resolved somewhere not allowed) has no entry:
    // the supervisor re-resolves it and starts it once the answer is allowed.
    if (entry === undefined) continue;
    if (entry.listen !== bridge.listen || entry.range !== plan.bridgeRange(state)) return { ok: false, reason: `the bridge "${bridge.name}" was started for another port or range` };
    if (!(await isOurBridge(session.runner, entry))) repairs.push(`the bridge "${bridge.name}" (pid ${entry.pid} is not it)`);
  }
  if (policy.proxy) {
    const proxy = state.proxy;
    if (proxy === undefined || proxy.listen.port !== policy.proxy.listen || proxy.allowClients[0] !== plan.bridgeRange(state)) return { ok: false, reason: 'the egress proxy was not started as this policy says' };
    if (!(await isOurProxy(session.runner, proxy))) repairs.push(`the egress proxy (pid ${proxy.pid} is not it)`);
  }
  return { ok: true, repairs };
}
