// `enforce --supervise` (what launchd runs): stay in the foreground over an applied state; restart
// a bridge that died (with backoff), re-check the rules every interval and put them back, re-resolve
// every bridge's target name (a changed answer moves the bridge to the new address if that address
// is allowed, and takes the bridge down if not), and tear everything down when the VM exits, when
// told to stop (the signal), or when the rules cannot be restored — failing closed rather than
// leaving the VM up without its cage.

import { bridgeLogPath, writeState, type EnforceState } from '../formats/enforce-state.ts';
import { isOurBridge, socatCmd, startBridge, stopBridge } from './bridge-step.ts';
import { hostAddresses, resolveTarget } from './resolve-target.ts';
import { downLocked, type DownResult } from './down.ts';
import { isOurProxy, startProxy } from './proxy-step.ts';
import { isOurCollector, startCollector } from './firewall-log-step.ts';
import type { Session } from './session.ts';

export interface SuperviseOptions {
  intervalMs: number;
  /** Aborted on SIGINT/SIGTERM by the CLI. */
  signal: AbortSignal;
  /** Longest wait between two restarts of one bridge. */
  maxBackoffMs?: number;
}

export interface SuperviseResult {
  why: 'stopped' | 'vm-exited' | 'rules-lost';
  detail?: string;
  restarts: number;
  down: DownResult;
}

// Supervises until the VM exits or the signal aborts; then tears down. The caller holds the lock.
export async function superviseLocked(session: Session, state: EnforceState, options: SuperviseOptions): Promise<SuperviseResult> {
  const ctx = session.context(state);
  const persist = () => writeState(session.stateDir, ctx.state);
  const backoff = new Map<string, { delay: number; next: number }>();
  const maxBackoff = options.maxBackoffMs ?? 60_000;
  let restarts = 0;
  let why: SuperviseResult['why'] = 'stopped';
  let detail: string | undefined;

  while (!options.signal.aborted) {
    await abortableSleep(options.intervalMs, options.signal);
    if (options.signal.aborted) break;
    if (await session.plan.vmGone(ctx)) {
      why = 'vm-exited';
      break;
    }
    try {
      for (const note of await session.plan.repairRules(ctx)) ctx.log(note);
      persist();
    } catch (error) {
      why = 'rules-lost';
      detail = (error as Error).message;
      break;
    }
    const own = hostAddresses();
    for (const bridge of session.policy.bridges) {
      let entry = ctx.state.bridges.find((b) => b.name === bridge.name);
      const target = await resolveTarget(bridge, session.policy, ctx.lookup, own);
      if (!target.ok) {
        // The name now points somewhere a bridge must not reach (or nowhere): take it down, and
        // start it again only once the answer is allowed again.
        if (entry !== undefined) {
          await stopBridge(ctx.runner, entry);
          ctx.state.bridges = ctx.state.bridges.filter((b) => b !== entry);
          persist();
          ctx.log(`took the bridge "${bridge.name}" down: ${target.message}`);
        }
        continue;
      }
      const up = entry !== undefined && (await isOurBridge(ctx.runner, entry));
      if (up && entry!.target === target.address) {
        backoff.delete(bridge.name);
        continue;
      }
      if (up) {
        ctx.log(`the target of the bridge "${bridge.name}" (${bridge.target.host}) now resolves to ${target.address}, not ${entry!.target ?? '?'}: restarting the bridge on the new address`);
        await stopBridge(ctx.runner, entry!);
        ctx.state.bridges = ctx.state.bridges.filter((b) => b !== entry);
        entry = undefined;
        persist();
      }
      const b = backoff.get(bridge.name) ?? { delay: 1000, next: 0 };
      if (Date.now() < b.next) continue;
      const range = session.plan.bridgeRange(ctx.state);
      try {
        await startBridge(ctx, bridge, socatCmd(session.plan.artifacts, bridge, range, target.address), range, target.address, session.policy.network);
        restarts++;
        ctx.log(`restarted the bridge "${bridge.name}"${bridge.target.kind === 'dns' ? ` (to ${target.address})` : ''}`);
      } catch (error) {
        ctx.log(`${(error as Error).message} (next try in ${Math.round(b.delay / 1000)} s; log ${bridgeLogPath(session.stateDir, bridge.name)})`);
        backoff.set(bridge.name, { delay: Math.min(b.delay * 2, maxBackoff), next: Date.now() + b.delay });
      }
      persist();
    }
    // The egress proxy, like a bridge: restarted when it died, with the same backoff.
    if (session.policy.proxy) {
      const entry = ctx.state.proxy;
      const alive = entry !== undefined && (await isOurProxy(ctx.runner, entry));
      const b = backoff.get('proxy') ?? { delay: 1000, next: 0 };
      if (alive) backoff.delete('proxy');
      else if (Date.now() >= b.next) {
        try {
          await startProxy(ctx, session.policy, session.plan.artifacts, session.plan.bridgeRange(ctx.state));
          restarts++;
          ctx.log('restarted the egress proxy');
        } catch (error) {
          ctx.log(`${(error as Error).message} (next try in ${Math.round(b.delay / 1000)} s)`);
          backoff.set('proxy', { delay: Math.min(b.delay * 2, maxBackoff), next: Date.now() + b.delay });
        }
        persist();
      }
    }
    // The firewall-log collector, the same way (only a lost view, never a hole: the firewall
    // refuses either way).
    const collector = ctx.state.firewallLog;
    if (collector !== undefined && !(await isOurCollector(ctx.runner, collector))) {
      const b = backoff.get('firewall-log') ?? { delay: 1000, next: 0 };
      if (Date.now() >= b.next) {
        try {
          await startCollector(ctx, session.policy, ctx.state.backend, collector.argv.includes('--sudo'));
          backoff.delete('firewall-log');
          restarts++;
          ctx.log('restarted the firewall-log collector');
        } catch (error) {
          ctx.log(`${(error as Error).message} (next try in ${Math.round(b.delay / 1000)} s)`);
          backoff.set('firewall-log', { delay: Math.min(b.delay * 2, maxBackoff), next: Date.now() + b.delay });
        }
        persist();
      }
    }
  }
  const down = await downLocked(session, ctx.state);
  return { why, ...(detail ? { detail } : {}), restarts, down };
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
