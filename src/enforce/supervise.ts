// `enforce --supervise` (what launchd runs): stay in the foreground over an applied state; restart
// a bridge or the proxy that died (at once, found by a cheap liveness watch between the full
// checks; with backoff for a part that keeps dying), re-check the rules every interval and put them
// back, re-resolve every bridge's target name every half interval (a changed answer moves the
// bridge to the new address if that address is allowed, and takes the bridge down if not; so a
// rebinding is followed within the interval), and tear everything down when the
// VM exits, when told to stop (the signal), or when the rules cannot be restored — failing closed
// rather than leaving the VM up without its cage.

import { bridgeLogPath, writeState, type EnforceState } from '../formats/enforce-state.ts';
import type { Bridge } from '../compiler/policy.ts';
import { isBridgeCommand, isOurBridge, socatCmd, startBridge, stopBridge } from './bridge-step.ts';
import { forbiddenTarget, hostAddresses, resolveTarget, type Resolved } from './resolve-target.ts';
import { downLocked, type DownResult } from './down.ts';
import { processGone } from './process-gone.ts';
import { procCommandLine } from './proc-command-line.ts';
import { isOurProxy, isProxyCommand, startProxy } from './proxy-step.ts';
import { isOurCollector, startCollector } from './firewall-log-step.ts';
import type { Session } from './session.ts';

/** How often the liveness watch looks at the recorded pids between two full checks. */
export const WATCH_MS = 250;
/** A part seen running this long after its start counts as steady: its next death is restarted at once. */
export const STEADY_MS = 2000;
/** The first wait before restarting a part that died unsteady (or failed to start); doubles up to maxBackoffMs. */
export const FIRST_BACKOFF_MS = 250;
/** Longest wait for the resolver when a bridge's name is re-resolved: a stalled resolver must not stall the watch. */
export const NAME_WAIT_MS = 2000;

export interface SuperviseOptions {
  intervalMs: number;
  /** Aborted on SIGINT/SIGTERM by the CLI. */
  signal: AbortSignal;
  /** Longest wait between two restarts of one part. */
  maxBackoffMs?: number;
  /** Between full checks (tests shorten it). */
  watchMs?: number;
}

export interface SuperviseResult {
  why: 'stopped' | 'vm-exited' | 'rules-lost';
  detail?: string;
  restarts: number;
  down: DownResult;
}

/** One supervised part (a bridge by name, or "proxy"): when we last started it, and its backoff. */
interface Part {
  startedAt?: number;
  lastSeenUp?: number;
  delay: number;
  next: number;
}

// Supervises until the VM exits or the signal aborts; then tears down. The caller holds the lock.
// The first full check runs at once: a supervisor started over a state whose bridges or proxy died
// while nothing supervised it (apply's "adopted") restarts them now, not an interval later.
export async function superviseLocked(session: Session, state: EnforceState, options: SuperviseOptions): Promise<SuperviseResult> {
  const ctx = session.context(state);
  const persist = () => writeState(session.stateDir, ctx.state);
  const parts = new Map<string, Part>();
  const maxBackoff = options.maxBackoffMs ?? 60_000;
  const watchMs = options.watchMs ?? WATCH_MS;
  let restarts = 0;
  let why: SuperviseResult['why'] = 'stopped';
  let detail: string | undefined;

  const part = (name: string): Part => {
    let p = parts.get(name);
    if (p === undefined) parts.set(name, (p = { delay: FIRST_BACKOFF_MS, next: 0 }));
    return p;
  };
  // Whether a part may be (re)started now. A part that had run steadily died of a fault: restart
  // it at once, with a fresh backoff. One that died soon after we started it keeps dying: wait.
  const mayStart = (name: string): boolean => {
    const p = part(name);
    const steady = p.startedAt === undefined || (p.lastSeenUp ?? -Infinity) - p.startedAt >= STEADY_MS;
    if (steady) {
      p.delay = FIRST_BACKOFF_MS;
      p.next = 0;
    }
    return Date.now() >= p.next;
  };
  const started = (name: string): Part => {
    const p = part(name);
    const now = Date.now();
    p.startedAt = now;
    p.lastSeenUp = undefined;
    p.next = now + p.delay;
    p.delay = Math.min(p.delay * 2, maxBackoff);
    return p;
  };
  const seenUp = (name: string) => {
    part(name).lastSeenUp = Date.now();
  };

  // Brings one bridge to what it should be: running, ours (never a recycled pid), on its target's
  // current address; or down while that address is not allowed.
  const tendBridge = async (bridge: Bridge, own: ReadonlySet<string>) => {
    let entry = ctx.state.bridges.find((b) => b.name === bridge.name);
    const up = entry !== undefined && (await isOurBridge(ctx.runner, entry));
    // A dead bridge whose turn has not come yet: no lookup (the watch calls this every few 100 ms).
    if (!up && !mayStart(bridge.name)) return;
    let target = await resolveWithin(bridge, own);
    if (target === 'slow') {
      // No answer in time is no news of a change (a definite "no such name" is, below): a running
      // bridge stays on the address it was checked for; a dead one is restarted there, checked
      // again against the host's addresses now.
      const last = entry?.target;
      const why = last === undefined ? 'no address was recorded' : forbiddenTarget(last, session.policy, own);
      if (up) seenUp(bridge.name);
      ctx.log(`the target of the bridge "${bridge.name}" (${bridge.target.host}) did not resolve within ${NAME_WAIT_MS / 1000} s: ${up ? `kept the bridge on ${last ?? '?'}` : why === undefined ? `restarting it on ${last}` : `not restarting it (${why})`}`);
      if (up || why !== undefined) return;
      target = { ok: true, address: last! };
    }
    if (!target.ok) {
      // The name now points somewhere a bridge must not reach (or nowhere): take it down, and
      // start it again only once the answer is allowed again.
      if (entry !== undefined) {
        await stopBridge(ctx.runner, entry);
        ctx.state.bridges = ctx.state.bridges.filter((b) => b !== entry);
        persist();
        ctx.log(`took the bridge "${bridge.name}" down: ${target.message}`);
      }
      return;
    }
    if (up && entry!.target === target.address) {
      seenUp(bridge.name);
      return;
    }
    if (up) {
      ctx.log(`the target of the bridge "${bridge.name}" (${bridge.target.host}) now resolves to ${target.address}, not ${entry!.target ?? '?'}: restarting the bridge on the new address`);
      await stopBridge(ctx.runner, entry!);
      ctx.state.bridges = ctx.state.bridges.filter((b) => b !== entry);
      entry = undefined;
      persist();
    }
    const range = session.plan.bridgeRange(ctx.state);
    const p = started(bridge.name);
    try {
      await startBridge(ctx, bridge, socatCmd(session.plan.artifacts, bridge, range, target.address), range, target.address, session.policy.network);
      restarts++;
      ctx.log(`restarted the bridge "${bridge.name}"${bridge.target.kind === 'dns' ? ` (to ${target.address})` : ''}`);
    } catch (error) {
      ctx.log(`${(error as Error).message} (next try in ${seconds(p.next - Date.now())}; log ${bridgeLogPath(session.stateDir, bridge.name)})`);
    }
    persist();
  };

  // The firewall-log collector, the same way at each full check (only a lost view, never a hole:
  // the firewall refuses either way).
  const tendCollector = async () => {
    const collector = ctx.state.firewallLog;
    if (collector === undefined || (await isOurCollector(ctx.runner, collector))) {
      seenUp('firewall-log');
      return;
    }
    if (!mayStart('firewall-log')) return;
    const p = started('firewall-log');
    try {
      await startCollector(ctx, session.policy, ctx.state.backend, collector.argv.includes('--sudo'));
      restarts++;
      ctx.log('restarted the firewall-log collector');
    } catch (error) {
      ctx.log(`${(error as Error).message} (next try in ${seconds(p.next - Date.now())})`);
    }
  };

  // The bridge's target now, or "slow" when the resolver did not answer within NAME_WAIT_MS (the
  // lookup is abandoned, not cancelled: getaddrinfo cannot be).
  const resolveWithin = async (bridge: Bridge, own: ReadonlySet<string>): Promise<Resolved | 'slow'> => {
    if (bridge.target.kind !== 'dns') return resolveTarget(bridge, session.policy, ctx.lookup, own);
    const answer = await within(ctx.lookup(bridge.target.host), NAME_WAIT_MS);
    if (answer === 'slow') return 'slow';
    return resolveTarget(bridge, session.policy, async () => {
      if ('error' in answer) throw answer.error;
      return answer.value;
    }, own);
  };

  // The egress proxy, like a bridge: restarted when it died (or a recycled pid holds its number).
  const tendProxy = async () => {
    const entry = ctx.state.proxy;
    if (entry !== undefined && (await isOurProxy(ctx.runner, entry))) {
      seenUp('proxy');
      // Secrets stay fresh: each interval the proxy re-reads its sources (a keychain item or a
      // command has no mtime to watch); a source that fails there keeps the value it had.
      if (session.policy.secrets.length > 0) ctx.runner.signal(entry.pid, 'SIGHUP');
      return;
    }
    if (!mayStart('proxy')) return;
    const p = started('proxy');
    try {
      await startProxy(ctx, session.policy, session.plan.artifacts, session.plan.bridgeRange(ctx.state));
      restarts++;
      ctx.log('restarted the egress proxy');
    } catch (error) {
      ctx.log(`${(error as Error).message} (next try in ${seconds(p.next - Date.now())})`);
    }
    persist();
  };

  // The cheap look between full checks: signal 0, and on Linux the pid's /proc command line (no
  // fork), so a dead part — or another program at its pid — is found within a watch period. Only
  // a part that looks gone is tended, and tending checks its identity again before acting.
  const watch = async () => {
    for (const bridge of session.policy.bridges) {
      const entry = ctx.state.bridges.find((b) => b.name === bridge.name);
      // No entry: taken down because its name is not allowed now; only the full check re-resolves.
      if (entry === undefined) continue;
      if (looksAlive(entry.pid, (line) => isBridgeCommand(line, entry))) seenUp(bridge.name);
      else await tendBridge(bridge, hostAddresses());
      if (options.signal.aborted) return;
    }
    const proxy = ctx.state.proxy;
    if (session.policy.proxy) {
      if (proxy !== undefined && looksAlive(proxy.pid, (line) => isProxyCommand(line, proxy))) seenUp('proxy');
      else await tendProxy();
    }
  };
  const looksAlive = (pid: number, ours: (line: string) => boolean): boolean => {
    if (processGone(ctx.runner, pid)) return false;
    const line = procCommandLine(pid);
    return line === undefined || ours(line);
  };

  // Names every half interval: a changed answer is then followed (a socat restart, well under a
  // second) within the interval, wherever in it the change fell.
  const namesEveryMs = Math.max(watchMs, Math.floor(options.intervalMs / 2));
  let nextFull = 0;
  let nextNames = 0;
  while (!options.signal.aborted) {
    if (Date.now() >= nextFull) {
      nextFull = Date.now() + options.intervalMs;
      nextNames = Date.now() + namesEveryMs;
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
      for (const bridge of session.policy.bridges) await tendBridge(bridge, own);
      if (session.policy.proxy) await tendProxy();
      await tendCollector();
    } else if (Date.now() >= nextNames) {
      nextNames = Date.now() + namesEveryMs;
      const own = hostAddresses();
      for (const bridge of session.policy.bridges) await tendBridge(bridge, own);
      await watch();
    } else {
      await watch();
    }
    await abortableSleep(Math.max(0, Math.min(watchMs, nextFull - Date.now(), nextNames - Date.now())), options.signal);
  }
  const down = await downLocked(session, ctx.state);
  return { why, ...(detail ? { detail } : {}), restarts, down };
}

// The promise's outcome, or "slow" when it takes longer than `ms` (it is left to finish alone).
async function within<T>(promise: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | 'slow'> {
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<'slow'>((resolve) => {
    timer = setTimeout(() => resolve('slow'), ms);
  });
  try {
    return await Promise.race([promise.then((value) => ({ value }), (error: unknown) => ({ error })), slow]);
  } finally {
    clearTimeout(timer);
  }
}

function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
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
