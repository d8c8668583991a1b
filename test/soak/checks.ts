// The soak's verdicts, from what it measured (pure). Each check passes only on evidence that it
// was exercised: a soak that moved no bytes, injected no fault or ran no sweep fails that check,
// since a check that could not run is never a pass.

import type { SoakResult } from './run-soak.ts';
import { FAULT_KINDS } from './faults.ts';

export interface Check {
  name: 'bytes' | 'records' | 'cage' | 'flat' | 'recovery' | 'teardown' | 'ran';
  ok: boolean;
  /** One line: what held, or what did not. */
  detail: string;
  /** The first few offending items, for the reader. */
  evidence?: string[];
}

const ROLES = ['supervisor', 'proxy', 'bridge:alpha', 'bridge:beta'];
const PATHS = ['alpha', 'beta', 'proxy'];

// Every check over one soak's result; `boundMs` is the supervise interval recoveries must beat.
export function evaluate(r: Omit<SoakResult, 'checks'>, boundMs: number): Check[] {
  return [ran(r), bytes(r), records(r), cage(r), flat(r), recovery(r, boundMs), teardown(r)];
}

function ran(r: Omit<SoakResult, 'checks'>): Check {
  return r.aborted ? { name: 'ran', ok: false, detail: `the soak did not run to its end: ${r.aborted}` } : { name: 'ran', ok: true, detail: `ran ${(r.ranMs / 1000).toFixed(1)} s to its end` };
}

// Every byte an honest client sent came back intact, or its connection failed visibly.
function bytes(r: Omit<SoakResult, 'checks'>): Check {
  const bad = r.connections.filter((c) => c.outcome === 'corrupt' || c.outcome === 'stalled');
  const idle = PATHS.filter((p) => !r.connections.some((c) => c.target === p && c.outcome === 'intact'));
  const evidence = bad.slice(0, 5).map((c) => `${c.target} ${c.pattern}: ${c.outcome}: ${c.error ?? ''}`);
  if (idle.length) evidence.push(`no intact connection through ${idle.join(', ')}`);
  const relayed = r.connections.reduce((sum, c) => sum + c.echoed, 0);
  return {
    name: 'bytes',
    ok: bad.length === 0 && idle.length === 0,
    detail: `${r.connections.length} connections, ${relayed} bytes echoed; ${bad.length} corrupt or stalled`,
    ...(evidence.length ? { evidence } : {}),
  };
}

// Every connection the proxy allowed (a client saw 200) has its record in the audit log.
function records(r: Omit<SoakResult, 'checks'>): Check {
  const a = r.audit;
  const evidence = a.missing.slice(0, 5).map((m) => `${m.who}: ${m.name} opened at ${((m.start - r.startedAt) / 1000).toFixed(1)} s, ${m.end - m.start} ms long`);
  if (a.unreadable) evidence.push(`${a.unreadable} unreadable lines`);
  return {
    name: 'records',
    ok: a.expected > 0 && a.missing.length === 0 && a.unreadable === 0,
    detail: `${a.matched} of ${a.expected} allowed connections have a record (log: ${a.lines} lines, ${a.allowed} allowed, ${a.refused} refused${a.rotated ? ', rotated' : ''})`,
    ...(evidence.length ? { evidence } : {}),
  };
}

// The cage never opened: no canary answered, no service was reached from the VM directly, every
// sweep found only the bridges and the proxy.
function cage(r: Omit<SoakResult, 'checks'>): Check {
  const evidence = [
    ...r.canary.reached.slice(0, 5).map((c) => `canary ${c.host}:${c.port} reached`),
    ...Object.entries(r.canary.serviceHits).filter(([, n]) => n > 0).map(([name, n]) => `service "${name}" logged ${n} connections`),
    ...Object.entries(r.canary.fromVm).filter(([, n]) => n > 0).map(([name, n]) => `service "${name}" saw ${n} connections from the VM's own address`),
    ...r.sweeps.filter((s) => s.unexpected.length > 0).map((s) => `sweep at ${(s.at / 1000).toFixed(1)} s found ${s.unexpected.join(',')} open`),
    ...r.sweeps.filter((s) => s.error).map((s) => `sweep at ${(s.at / 1000).toFixed(1)} s failed: ${s.error}`),
  ];
  const complete = r.sweeps.filter((s) => !s.error && Object.values(s.counts).reduce((a, b) => a + b, 0) === 65535).length;
  if (complete === 0) evidence.push('no complete sweep of the gateway ran');
  if (r.canary.attempts === 0) evidence.push('no canary attempt ran');
  return {
    name: 'cage',
    ok: evidence.length === 0,
    detail: `${r.canary.attempts} canary attempts, ${complete} full sweeps of the gateway: ${evidence.length === 0 ? 'nothing else answered' : 'OPENED'}`,
    ...(evidence.length ? { evidence } : {}),
  };
}

// Memory and descriptors of every caging process stayed flat (first quarter vs last).
function flat(r: Omit<SoakResult, 'checks'>): Check {
  const missing = ROLES.filter((role) => !r.trends.some((t) => t.role === role));
  const grown = r.trends.filter((t) => !t.flat);
  const evidence = [...grown.map((t) => `${t.role}: ${t.note}`), ...missing.map((m) => `${m}: never sampled`)];
  return { name: 'flat', ok: evidence.length === 0, detail: `${r.trends.length} roles sampled; ${grown.length} not flat`, ...(evidence.length ? { evidence } : {}) };
}

// Each fault was injected, and recovery after each took under the supervise interval; a fault
// that should have left a path alone did.
function recovery(r: Omit<SoakResult, 'checks'>, boundMs: number): Check {
  const notInjected = FAULT_KINDS.filter((k) => !r.faults.some((f) => f.kind === k));
  const slow = r.faults.filter((f) => f.recoveredMs === undefined || f.recoveredMs >= boundMs);
  const degraded = r.faults.filter((f) => f.degraded);
  const evidence = [
    ...slow.map((f) => `${f.kind} at ${(f.at / 1000).toFixed(1)} s: ${f.recoveredMs !== undefined ? `${Math.round(f.recoveredMs)} ms` : f.error}`),
    ...degraded.map((f) => `${f.kind} at ${(f.at / 1000).toFixed(1)} s: ${f.degraded}`),
    ...(notInjected.length ? [`never injected: ${notInjected.join(', ')}`] : []),
  ];
  return {
    name: 'recovery',
    ok: evidence.length === 0,
    detail: `${r.faults.length - slow.length} of ${r.faults.length} faults recovered under ${boundMs} ms`,
    ...(evidence.length ? { evidence } : {}),
  };
}

// Stopped with SIGTERM, the supervisor tore everything down: exit 0, no socat, no proxy, no table.
function teardown(r: Omit<SoakResult, 'checks'>): Check {
  const t = r.teardown;
  const evidence = [...(t.code !== 0 ? [`enforce --supervise ended with ${t.code}`] : []), ...(t.tableGone ? [] : ['the nft table is still loaded']), ...t.leftovers.map((l) => `left running: ${l}`)];
  return { name: 'teardown', ok: evidence.length === 0, detail: evidence.length === 0 ? 'SIGTERM: exit 0, nothing left' : 'SIGTERM left something behind', ...(evidence.length ? { evidence } : {}) };
}
