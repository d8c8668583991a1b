// What is in force now, read from enforce's state and checked against the host: the rules, each
// bridge process (and the proxy, when the state has one) with its connections, the VM's address,
// the last verify and the newest snapshots. Read-only: it runs only listing commands.

import { isOurBridge } from './bridge-step.ts';
import { isOurProxy } from './proxy-step.ts';
import { cmd } from '../host/command.ts';
import type { Session } from './session.ts';
import { readState, type EnforceState } from '../formats/enforce-state.ts';
import { listSnapshots, type SnapshotRow } from '../snapshots/list-snapshots.ts';
import { readRecords, RecordsError, type VerifyOutcome } from '../snapshots/snapshot-records.ts';

export interface ProcessStatus {
  name: string;
  listen: number;
  pid: number;
  alive: boolean;
  /** Established connections on the listen port; undefined when they cannot be counted. */
  connections?: number;
}

export interface CageStatus {
  vm: string;
  stateDir: string;
  inForce: boolean;
  /** Why what is recorded does not hold (or nothing is recorded). */
  problems: string[];
  backend?: string;
  rules?: { name: string; loaded: boolean; problem?: string };
  policyChanged?: boolean;
  vmAddress?: string;
  iface?: string;
  bridges: ProcessStatus[];
  proxy?: ProcessStatus;
  lastVerify?: VerifyOutcome;
  snapshots: SnapshotRow[];
  snapshotsProblem?: string;
}

export async function cageStatus(session: Session): Promise<CageStatus> {
  const { policy, stateDir, runner } = session;
  const state = readState(stateDir);
  // Unreadable records cost the last verify and the snapshot list (listSnapshots says why), not the status.
  const records = (() => {
    try {
      return readRecords(stateDir);
    } catch (e) {
      if (e instanceof RecordsError) return undefined;
      throw e;
    }
  })();
  const snaps = await listSnapshots(runner, policy.vm, stateDir);
  const base: CageStatus = {
    vm: policy.vm,
    stateDir,
    inForce: false,
    problems: [],
    bridges: [],
    ...(records?.lastVerify ? { lastVerify: records.lastVerify } : {}),
    snapshots: snaps instanceof Error ? [] : snaps.slice(0, 3),
    ...(snaps instanceof Error ? { snapshotsProblem: snaps.message } : {}),
  };
  if (state === undefined) return { ...base, problems: [`nothing is recorded in ${stateDir}: the policy is not in force`] };
  const ctx = session.context(state);
  const rulesProblem = await session.plan.rulesProblem(ctx);
  const count = await connectionCounter(session, state);
  const bridges: ProcessStatus[] = [];
  for (const b of state.bridges) {
    const alive = await isOurBridge(runner, b);
    bridges.push({ name: b.name, listen: b.listen, pid: b.pid, alive, ...(alive ? await count(b.listen) : {}) });
  }
  // Alive means still our proxy (its command line), as for a bridge: a recycled pid is not it.
  const recordedProxy = state.proxy;
  const proxyAlive = recordedProxy ? await isOurProxy(runner, recordedProxy) : false;
  const proxy = recordedProxy
    ? { name: 'proxy', listen: recordedProxy.listen.port, pid: recordedProxy.pid, alive: proxyAlive, ...(proxyAlive ? await count(recordedProxy.listen.port) : {}) }
    : undefined;
  const problems: string[] = [];
  if (!state.complete) problems.push('the last enforce did not finish');
  if (state.policySha256 !== policy.source.sha256) problems.push('the policy changed since it was enforced');
  if (rulesProblem) problems.push(`rules: ${rulesProblem}`);
  for (const b of bridges) if (!b.alive) problems.push(`the bridge "${b.name}" (pid ${b.pid}) is not running`);
  if (proxy && !proxy.alive) problems.push(`the proxy (pid ${proxy.pid}) is not running`);
  return {
    ...base,
    inForce: problems.length === 0,
    problems,
    backend: state.backend,
    rules: { name: state.rulesName, loaded: rulesProblem === undefined, ...(rulesProblem ? { problem: rulesProblem } : {}) },
    policyChanged: state.policySha256 !== policy.source.sha256,
    ...(state.vmAddress ? { vmAddress: state.vmAddress } : {}),
    ...(state.iface ? { iface: state.iface } : {}),
    bridges,
    ...(proxy ? { proxy } : {}),
  };
}

// Counts established TCP connections to the gateway port with lsof, when it is there.
async function connectionCounter(session: Session, state: EnforceState): Promise<(port: number) => Promise<{ connections?: number }>> {
  const lsof = await session.runner.which('lsof');
  const gw = session.policy.network.gateway;
  return async (port) => {
    if (lsof === undefined || state.vmAddress === undefined) return {};
    const r = await session.runner.run(cmd('lsof', '-nP', `-iTCP@${gw}:${port}`, '-sTCP:ESTABLISHED'));
    // lsof exits 1 when nothing matches.
    if (r.exitCode !== 0 && r.stdout.trim() !== '') return {};
    const lines = r.stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('COMMAND'));
    // Each connection shows twice when both ends are on this host; socat's side is the listener's.
    return { connections: lines.filter((l) => l.includes(`${gw}:${port}->`)).length };
  };
}
