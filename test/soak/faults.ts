// The faults the chaos loop injects, one function each, and how each one's recovery is measured:
// from the moment the fault is in place (or, for a fault that lasts — a flood, a DNS stall — the
// moment it ends) until a probe from the VM gets every byte back through the path it hit. A
// recovery not seen before the deadline is recorded as none: never as a pass.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PLAN } from '../lab/index.ts';
import { BETA, ECHO, PROXY_PORT, paths, readState, rebind, type SoakLab } from './soak-lab.ts';
import type { Supervisor } from './supervisor.ts';
import type { VmAgent } from './vm-agent.ts';

export const FAULT_KINDS = ['socat-child', 'socat-listener', 'proxy', 'supervisor', 'flood', 'rebind', 'dns-stall'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRecord {
  kind: FaultKind;
  /** ms since the soak started. */
  at: number;
  detail: string;
  /** ms until the path worked again; undefined if it did not within the deadline. */
  recoveredMs?: number;
  /** Why there is no recovery, or what went wrong injecting. */
  error?: string;
  /** A path the fault should not have touched that failed during it. */
  degraded?: string;
}

export interface FaultContext {
  s: SoakLab;
  agent: VmAgent;
  supervisor: Supervisor;
  /** The deadline for a recovery, ms. */
  deadlineMs: number;
  floodMs: number;
  floodConcurrency: number;
  stallMs: number;
  /** Connections the proxy allowed for a probe: the audit log must show them too. */
  allowed: (name: string, start: number, end: number, who: string) => void;
}

interface ProbeAnswer {
  ok: boolean;
  tunnel: boolean;
  banner?: string;
  error?: string;
  start: number;
  end: number;
}

// One probe through `path`; an allowed proxy tunnel is noted for the audit check.
export async function probe(ctx: FaultContext, path: 'alpha' | 'beta' | 'proxy'): Promise<ProbeAnswer> {
  const target = paths(ctx.s).find((p) => p.id === path)!;
  const a = await ctx.agent.request<ProbeAnswer>({ cmd: 'probe', target });
  if (a.tunnel) ctx.allowed(ECHO.name, a.start, a.end, 'probe');
  return a;
}

// Probes until one succeeds (and `accept` agrees) or the deadline; ms from `since`, or undefined.
async function recovery(ctx: FaultContext, path: 'alpha' | 'beta' | 'proxy', since: number, accept: (a: ProbeAnswer) => boolean = () => true): Promise<{ ms?: number; last?: string }> {
  let last: string | undefined;
  while (performance.now() - since < ctx.deadlineMs) {
    const a = await probe(ctx, path);
    if (a.ok && accept(a)) return { ms: performance.now() - since };
    last = a.error ?? `banner ${a.banner}`;
    await sleep(100);
  }
  return { last };
}

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function kill(pid: number): boolean {
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

// The per-connection socat processes of a bridge: every socat in the host namespace listening on
// its port (a fork keeps the command line) but the listener itself. By command line, not by
// parent: a child whose listener was killed lives on, orphaned, with its connection.
function socatChildren(s: SoakLab, bridge: { pid: number; listen: number }): number[] {
  const pids = spawnSync('ip', ['netns', 'pids', s.lab.ns.host], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
  return pids.filter((pid) => {
    if (pid === bridge.pid) return false;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))) return false;
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return /(^|\/)socat$/.test(argv[0] ?? '') && argv.some((a) => a.includes(`-LISTEN:${bridge.listen},`));
    } catch {
      return false;
    }
  });
}

type Outcome = Omit<FaultRecord, 'kind' | 'at'>;
const result = (detail: string, r: { ms?: number; last?: string }): Outcome => ({ detail, ...(r.ms !== undefined ? { recoveredMs: r.ms } : { error: `no recovery within the deadline (last probe: ${r.last ?? 'none'})` }) });

export const FAULTS: Record<FaultKind, (ctx: FaultContext) => Promise<Outcome>> = {
  // One relayed connection's socat child killed: that connection fails visibly, the bridge serves on.
  async 'socat-child'(ctx) {
    const bridges = readState(ctx.s)?.bridges ?? [];
    const withChildren = bridges.map((b) => ({ b, children: socatChildren(ctx.s, b) })).filter((x) => x.children.length > 0);
    if (withChildren.length === 0) return { detail: 'no socat child to kill', error: 'no relayed connection was open' };
    const { b, children } = pick(withChildren);
    const victim = pick(children);
    kill(victim);
    const t = performance.now();
    return result(`killed socat child ${victim} of the bridge "${b.name}"`, await recovery(ctx, b.name as 'alpha' | 'beta', t));
  },
  // A bridge's listening socat killed: the supervisor must start it again.
  async 'socat-listener'(ctx) {
    const bridges = readState(ctx.s)?.bridges ?? [];
    if (bridges.length === 0) return { detail: 'no bridge recorded', error: 'the state lists no bridge' };
    const b = pick(bridges);
    kill(b.pid);
    const t = performance.now();
    return result(`killed the bridge "${b.name}" (socat ${b.pid})`, await recovery(ctx, b.name as 'alpha' | 'beta', t));
  },
  // The egress proxy killed with SIGKILL: its open tunnels die with it; the supervisor restarts it.
  async proxy(ctx) {
    const p = readState(ctx.s)?.proxy;
    if (!p) return { detail: 'no proxy recorded', error: 'the state lists no proxy' };
    kill(p.pid);
    const t = performance.now();
    return result(`killed the proxy (${p.pid})`, await recovery(ctx, 'proxy', t));
  },
  // The supervisor killed with SIGKILL; launchd (we) start it again at once, and again each
  // second while it refuses. Recovered when a run supervises again and the paths work.
  async supervisor(ctx) {
    const old = ctx.supervisor.current?.pid;
    await ctx.supervisor.kill();
    const t = performance.now();
    let why = '';
    let attempts = 0;
    while (performance.now() - t < ctx.deadlineMs) {
      attempts++;
      const r = await ctx.supervisor.start(Math.max(1000, ctx.deadlineMs - (performance.now() - t)));
      if (r.ok) {
        const back = await recovery(ctx, 'proxy', t);
        return result(`killed the supervisor (${old}); back after ${attempts} start${attempts === 1 ? '' : 's'}`, back);
      }
      why = r.why ?? '';
      await sleep(1000);
    }
    return { detail: `killed the supervisor (${old}); ${attempts} starts`, error: `it did not supervise again within the deadline: ${why}` };
  },
  // The audit log filled with refusals from the VM, as fast as the VM can make them.
  async flood(ctx) {
    const a = await ctx.agent.request<{ sent: number; counts: Record<string, number> }>({ cmd: 'flood', proxyPort: PROXY_PORT, ms: ctx.floodMs, concurrency: ctx.floodConcurrency });
    const t = performance.now();
    const counts = Object.entries(a.counts ?? {}).map(([k, v]) => `${k}×${v}`).join(' ');
    return result(`${a.sent} refused CONNECTs in ${ctx.floodMs} ms (${counts})`, await recovery(ctx, 'proxy', t));
  },
  // The bridge's target name rebound to the other lan service: the supervisor must follow it.
  async rebind(ctx) {
    const now = ctx.s.hosts[BETA.name];
    const next = now === BETA.addresses[0] ? BETA.addresses[1] : BETA.addresses[0];
    const banner = next === BETA.addresses[0] ? 'beta-a' : 'beta-b';
    rebind(ctx.s, next);
    const t = performance.now();
    return result(`${BETA.name} rebound ${now} → ${next}`, await recovery(ctx, 'beta', t, (a) => a.banner === banner));
  },
  // The resolver stops answering (packets dropped, as softnet does) while the VM asks the proxy for
  // names under the listed wildcard; then it answers again. The listed name the honest clients use
  // comes from the hosts file: it must work throughout, and at once after.
  async 'dns-stall'(ctx) {
    const drop = await ctx.s.lab.exec('wan', ['nft', '-f', '-'], { input: `table inet soak_stall {\n chain input {\n  type filter hook input priority 0; policy accept;\n  ip daddr ${PLAN.wan.dns} udp dport 53 drop\n  ip daddr ${PLAN.wan.dns} tcp dport 53 drop\n }\n}\n` });
    if (drop.exitCode !== 0) return { detail: 'could not drop DNS', error: drop.stderr.trim() };
    await ctx.agent.request({ cmd: 'stall-start', proxyPort: PROXY_PORT, suffix: ECHO.stallSuffix, perSecond: 20 });
    const t0 = performance.now();
    let during = 0;
    let duringOk = 0;
    let lastError = '';
    await sleep(Math.min(1000, ctx.stallMs / 2));
    while (performance.now() - t0 < ctx.stallMs) {
      during++;
      const p = await probe(ctx, 'proxy');
      if (p.ok) duringOk++;
      else lastError = p.error ?? '';
      await sleep(250);
    }
    const a = await ctx.agent.request<{ sent: number; counts: Record<string, number>; pending: number }>({ cmd: 'stall-stop' });
    await ctx.s.lab.exec('wan', ['nft', 'delete', 'table', 'inet', 'soak_stall']);
    const t = performance.now();
    const counts = Object.entries(a.counts ?? {}).map(([k, v]) => `${k}×${v}`).join(' ');
    return {
      ...result(`DNS dropped ${ctx.stallMs} ms, ${a.sent} CONNECTs to *.${ECHO.stallSuffix} (${counts}; ${a.pending} pending); probes of ${ECHO.name} during it ${duringOk}/${during} ok`, await recovery(ctx, 'proxy', t)),
      ...(duringOk < during ? { degraded: `${ECHO.name} (from the hosts file) failed ${during - duringOk} of ${during} probes while other names' DNS stalled (${lastError})` } : {}),
    };
  },
};
