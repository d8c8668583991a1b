// The soak with faults (issue 24), as one runner: a caged lab VM (real `enforce --backend nft
// --supervise`, socat bridges, the egress proxy), honest clients in the VM streaming through every
// path, a chaos loop injecting one fault at a time and timing each recovery, a canary loop and
// gateway sweeps proving the cage never opened, and /proc samples of every caging process. It
// returns what it measured and the checks; it prints nothing (progress goes to `log`).
// Bounded: every loop ends by the deadline, and the lab is torn down on any exit (test/lab's trap).

import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { spawnSync } from 'node:child_process';
import { matchAllowed, parseAudit, type AllowedConnection } from './audit-match.ts';
import { FAULTS, FAULT_KINDS, type FaultContext, type FaultKind, type FaultRecord } from './faults.ts';
import { RSS_GROWTH, trends, type RoleTrend } from './flatness.ts';
import { sampleRoles, type Sample } from './sampler.ts';
import { ECHO, PROXY_PORT, createSoakLab, paths, readState, type SoakLab } from './soak-lab.ts';
import { Supervisor } from './supervisor.ts';
import { VmAgent } from './vm-agent.ts';
import { evaluate, type Check } from './checks.ts';

const CLIENTS = new URL('./vm/clients.mjs', import.meta.url).pathname;
const TABLE = 'nanopolicy_lab_vm';

export interface SoakOptions {
  durationMs: number;
  intervalSeconds: number;
  floodMs: number;
  /** Refusing connections the flood keeps open at once (the flood's CPU). */
  floodConcurrency: number;
  stallMs: number;
  sampleMs: number;
  /** Quiet time between faults, ms: [min, max]. */
  gapMs: [number, number];
  /** A gateway sweep every this many ms (the first right when the chaos starts). */
  sweepEveryMs: number;
  /** Before the first fault and after the last: the honest clients alone. */
  warmMs: number;
  tailMs: number;
  /** The WebSocket-like clients' idle time, ms: [min, max]. */
  idleMs: [number, number];
  /** Allowed RSS growth, first quarter (or the warm-up's peak) → last (flatness.ts). */
  rssGrowth: { ratio: number; kib: number };
  log: (line: string) => void;
}

/** A soak of `minutes` (npm run soak), or the short one that runs in npm test (~40 s). */
export function soakOptions(mode: { minutes: number } | 'short', log: (line: string) => void = () => {}): SoakOptions {
  if (mode === 'short') {
    // 3 s, not less: a supervisor started again takes ~0.5 s of a quiet machine's CPU and over 2 s
    // of a loaded one's, and the bound must leave room for a supervisor that reacts at once.
    // Its memory check is a smoke check: one flood, one proxy kill and ~50 samples in ~20 s leave a
    // heap's high-water mark where chance puts it (a flood in the last quarter, on a loaded machine,
    // lifted the proxy from 73 to 102 MiB without a leak). A leak is the long soak's to find (its
    // 10 minutes: flat at 59 → 60 MiB over 59 faults); here only a gross one (×1.6, +48 MiB) fails.
    return { durationMs: 22_000, intervalSeconds: 3, floodMs: 2000, floodConcurrency: 6, stallMs: 3000, sampleMs: 400, gapMs: [200, 400], sweepEveryMs: 60_000, warmMs: 1000, tailMs: 2000, idleMs: [1000, 3000], rssGrowth: { ratio: 1.6, kib: 48 * 1024 }, log };
  }
  return { durationMs: mode.minutes * 60_000, intervalSeconds: 5, floodMs: 8000, floodConcurrency: 32, stallMs: 8000, sampleMs: 3000, gapMs: [3000, 10_000], sweepEveryMs: 120_000, warmMs: 10_000, tailMs: 20_000, idleMs: [2000, 8000], rssGrowth: RSS_GROWTH, log };
}

export interface ConnRecord {
  target: string;
  pattern: string;
  start: number;
  end: number;
  sent: number;
  echoed: number;
  outcome: 'intact' | 'failed' | 'corrupt' | 'stalled';
  tunnel: boolean;
  banner?: string;
  error?: string;
}

export interface Sweep {
  at: number;
  open: number[];
  unexpected: number[];
  counts: Record<string, number>;
  ms: number;
  error?: string;
}

export interface SoakResult {
  options: Omit<SoakOptions, 'log'>;
  /** When it started (epoch ms): `at` fields count from here. */
  startedAt: number;
  ranMs: number;
  faults: FaultRecord[];
  connections: ConnRecord[];
  audit: { expected: number; matched: number; missing: AllowedConnection[]; lines: number; allowed: number; refused: number; rotated: boolean; unreadable: number };
  trends: RoleTrend[];
  canary: { attempts: number; reached: Array<{ host: string; port: number; at: number }>; serviceHits: Record<string, number>; fromVm: Record<string, number> };
  sweeps: Sweep[];
  teardown: { code: number | string; leftovers: string[]; tableGone: boolean };
  /** Set when the soak could not run to the end: then the checks say so. */
  aborted?: string;
  checks: Check[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// A wait that does not keep the process alive once everything else is done (for races).
const deadline = (ms: number) => new Promise<true>((r) => setTimeout(() => r(true), ms).unref());

// Runs the soak; resolves with its result whatever happened (a failure to start is in `aborted`).
export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const t0 = performance.now();
  const startedAt = Date.now();
  const since = () => Math.round(performance.now() - t0);
  const faults: FaultRecord[] = [];
  const connections: ConnRecord[] = [];
  const allowed: AllowedConnection[] = [];
  const samples: Sample[] = [];
  const sweeps: Sweep[] = [];
  let canary: SoakResult['canary'] = { attempts: 0, reached: [], serviceHits: {}, fromVm: {} };
  let teardown: SoakResult['teardown'] = { code: 'not run', leftovers: [], tableGone: false };
  let auditPath: string | undefined;
  let records: AuditRead | undefined;
  let aborted: string | undefined;
  let s: SoakLab | undefined;
  let agent: VmAgent | undefined;
  let supervisor: Supervisor | undefined;
  let sampling = true;
  let windowFrom = Infinity;
  try {
    s = await createSoakLab();
    const lab = s.lab;
    o.log(`lab ${lab.id} up (${since()} ms); enforcing with --supervise --interval ${o.intervalSeconds}`);
    supervisor = new Supervisor(s, o.intervalSeconds);
    const first = await supervisor.start(60_000);
    if (!first.ok) throw new Error(`the first enforce --supervise failed: ${first.why}`);
    auditPath = readState(s)?.proxy?.auditLog;
    agent = await VmAgent.start(lab);
    await agent.request({ cmd: 'canary-start', targets: s.canaries, everyMs: 1000 });

    // The /proc sampler, by role, until the end.
    const sampler = (async () => {
      while (sampling) {
        const st = readState(s!);
        const pids: Record<string, number | undefined> = { supervisor: supervisor!.current?.pid, proxy: st?.proxy?.pid };
        for (const b of st?.bridges ?? []) pids[`bridge:${b.name}`] = b.pid;
        samples.push(...sampleRoles(pids, Date.now()));
        await sleep(o.sampleMs);
      }
    })();

    // The honest clients, until told to stop (SIGTERM) after the chaos and the tail; `hardStop`
    // bounds them even if this process is stuck.
    const until = Date.now() + o.durationMs;
    const deadlineMs = Math.max(5 * o.intervalSeconds * 1000, 15_000);
    const hardStop = until + FAULT_KINDS.length * (deadlineMs + o.stallMs) + 60_000;
    const clients = lab.spawn('vm', ['node', CLIENTS, JSON.stringify({ gateway: lab.gateway, targets: paths(s), untilMs: hardStop, stallMs: 15_000, idleMs: o.idleMs })], { stdout: 'pipe', stderr: 'inherit', buffer: false });
    let clientsDone = false;
    createInterface({ input: clients.stdout! }).on('line', (line) => {
      const rec = JSON.parse(line) as ConnRecord & { done?: boolean };
      if (rec.done) return void (clientsDone = true);
      connections.push(rec);
      if (rec.tunnel) allowed.push({ name: ECHO.name, start: rec.start, end: rec.end, who: `client ${rec.pattern}` });
    });
    // Warm-up: the clients alone, then one refusal flood, so the proxy's heap has seen its
    // high-water mark before the window memory is compared over (flatness.ts) begins.
    await sleep(o.warmMs);
    await agent.request({ cmd: 'flood', proxyPort: PROXY_PORT, ms: o.floodMs, concurrency: o.floodConcurrency });
    await sleep(Math.min(2000, o.warmMs));
    windowFrom = Date.now();

    // The chaos: one fault at a time, each kind once per shuffled round, until the tail.
    const ctx: FaultContext = {
      s, agent, supervisor,
      deadlineMs,
      floodMs: o.floodMs,
      floodConcurrency: o.floodConcurrency,
      stallMs: o.stallMs,
      allowed: (name, start, end, who) => allowed.push({ name, start, end, who }),
    };
    const chaosEnd = until - o.tailMs;
    let nextSweep = Date.now();
    const sweepsRunning: Array<Promise<void>> = [];
    let round: FaultKind[] = [];
    // Until the tail, and in any case until every kind was injected once (a loaded machine may
    // make faults slow; a kind never injected would fail the recovery check for nothing).
    while ((Date.now() < chaosEnd || faults.length < FAULT_KINDS.length) && Date.now() < hardStop - 60_000) {
      if (Date.now() >= nextSweep) {
        nextSweep = Date.now() + o.sweepEveryMs;
        sweepsRunning.push(runSweep(agent, s, since(), sweeps, o.log));
      }
      if (round.length === 0) round = shuffle([...FAULT_KINDS]);
      const kind = round.shift()!;
      const at = since();
      o.log(`fault: ${kind} at ${(at / 1000).toFixed(1)} s`);
      let rec: FaultRecord;
      try {
        rec = { kind, at, ...(await FAULTS[kind](ctx)) };
      } catch (error) {
        rec = { kind, at, detail: 'the fault itself failed', error: (error as Error).message };
      }
      faults.push(rec);
      o.log(`  ${rec.detail}; ${rec.recoveredMs !== undefined ? `recovered in ${Math.round(rec.recoveredMs)} ms` : rec.error}${rec.degraded ? `; DEGRADED: ${rec.degraded}` : ''}`);
      await sleep(o.gapMs[0] + Math.random() * (o.gapMs[1] - o.gapMs[0]));
    }
    await Promise.all(sweepsRunning);
    o.log(`chaos over (${since()} ms): ${faults.length} faults; the clients finish`);

    // The tail: the clients alone; then they are told to stop, and drain (killed if they hang).
    await sleep(Math.max(1000, until - Date.now()));
    const clientsEnded = Promise.resolve(clients);
    clients.kill('SIGTERM');
    if (await Promise.race([clientsEnded.then(() => false), deadline(30_000)])) {
      clients.kill('SIGKILL');
      await clientsEnded;
    }
    if (!clientsDone) aborted = 'the honest clients did not finish';
    canary = { ...(await agent.request<{ attempts: number; reached: SoakResult['canary']['reached'] }>({ cmd: 'canary-stop' })), serviceHits: {}, fromVm: {} };
    sampling = false;
    await sampler;

    // Stopped as launchctl would: SIGTERM; it tears the cage down.
    const stop = await supervisor.stop(30_000);
    teardown = { code: stop.code, leftovers: leftovers(s), tableGone: (await lab.exec('host', ['nft', 'list', 'table', 'inet', TABLE])).exitCode !== 0 };
    records = readAudit(auditPath);
    // What the far ends saw: the canaries nothing; the echo services only the host's own addresses.
    for (const name of ['canary', 'host-ssh', 'wan-web']) canary.serviceHits[name] = lab.connections(name).length;
    for (const name of ['alpha', 'beta-a', 'beta-b', 'echo']) canary.fromVm[name] = lab.connections(name).filter((c) => c.from === lab.vmAddress || c.from?.startsWith('192.168.64.')).length;
  } catch (error) {
    aborted = (error as Error).message;
  } finally {
    sampling = false;
    agent?.stop();
    if (supervisor?.current && teardown.code === 'not run') await supervisor.stop(10_000).catch(() => undefined);
    records ??= readAudit(auditPath);
    await s?.lab.teardown();
  }

  const audit = { ...matchAllowed(allowed, records.records), lines: records.records.length, allowed: records.records.filter((r) => r.decision === 'allowed').length, refused: records.records.filter((r) => r.decision === 'refused').length, rotated: records.rotated, unreadable: records.unreadable };
  const { log: _, ...options } = o;
  const result: Omit<SoakResult, 'checks'> = { options, startedAt, ranMs: since(), faults, connections, audit, trends: trends(samples, windowFrom, options.rssGrowth), canary, sweeps, teardown, ...(aborted ? { aborted } : {}) };
  return { ...result, checks: evaluate(result, o.intervalSeconds * 1000) };
}

// One sweep of every gateway port from the VM; what answered besides the bridges and the proxy.
async function runSweep(agent: VmAgent, s: SoakLab, at: number, sweeps: Sweep[], log: (l: string) => void): Promise<void> {
  const r = await agent.request<{ open?: number[]; counts?: Record<string, number>; ms?: number; error?: string }>({ cmd: 'sweep', host: s.lab.gateway, from: 1, to: 65535, concurrency: 256, timeoutMs: 1500 });
  const open = r.open ?? [];
  const sweep: Sweep = { at, open, unexpected: open.filter((p) => !s.openPorts.includes(p)), counts: r.counts ?? {}, ms: r.ms ?? 0, ...(r.error ? { error: r.error } : {}) };
  sweeps.push(sweep);
  log(`sweep at ${(at / 1000).toFixed(1)} s: open ${open.join(',') || 'none'} (${sweep.ms} ms)`);
}

// The audit log and its rotated predecessor (`.1`), parsed. Read before the lab is torn down: the
// state directory is inside the lab's directory.
function readAudit(path: string | undefined): AuditRead {
  if (path === undefined) return { records: [], unreadable: 0, rotated: false };
  const rotated = existsSync(`${path}.1`);
  const text = (rotated ? readFileSync(`${path}.1`, 'utf8') : '') + (existsSync(path) ? readFileSync(path, 'utf8') : '');
  return { ...parseAudit(text), rotated };
}
type AuditRead = ReturnType<typeof parseAudit> & { rotated: boolean };

// Processes of ours still in the host namespace after the supervisor tore down (socat, the proxy).
function leftovers(s: SoakLab): string[] {
  const pids = spawnSync('ip', ['netns', 'pids', s.lab.ns.host], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
  const out: string[] = [];
  for (const pid of pids) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/^[ZX]/.test(state.slice(state.lastIndexOf(')') + 2))) continue;
      if (/(^|\/)socat\s|proxy\.js/.test(cmdline)) out.push(`${pid} ${cmdline.slice(0, 80)}`);
    } catch {
      // gone
    }
  }
  return out;
}

function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

