// Every TCP port of the gateway but the bridges must be closed: the host's own services (SSH, SMB,
// AirPlay, screen sharing) listen on the gateway address too, and Softnet passes the gateway by default.

import { availableParallelism } from 'node:os';
import type { VerifyManifest } from '../manifest.ts';
import type { ProbeResult } from './result.ts';
import { sweepInWorker, type TcpScanner, type PortState, type ShardResult } from './tcp-scanner.ts';
import { describePort } from './port-names.ts';

export interface SweepProgress {
  (done: number, total: number): void;
}

export interface SweepOptions {
  /** Worker threads that sweep (default: one per core, at most 4; none under 4,096 ports: then this thread sweeps). */
  workers?: number;
}

/** Below this many ports a worker thread costs more to start than it saves. */
const MIN_PORTS_FOR_THREADS = 4096;

// Connects to each port in the sweep range; one summary row plus one row per open port.
// The range is cut into one contiguous slice per worker thread, each under its share of the cap.
export async function gatewaySweep(
  manifest: Pick<VerifyManifest, 'gateway' | 'gatewaySweep'>,
  scanner: TcpScanner,
  onProgress?: SweepProgress,
  options: SweepOptions = {},
): Promise<{ results: ProbeResult[]; ms: number }> {
  const { from, to, except } = manifest.gatewaySweep;
  const skip = new Set(except);
  const total = to - from + 1 - [...skip].filter((p) => p >= from && p <= to).length;
  const counts: Record<PortState, number> = { open: 0, closed: 0, filtered: 0, error: 0 };
  const openPorts: number[] = [];
  const errorCodes = new Set<string>();
  const started = performance.now();
  if (total === 0) return { results: [summary()], ms: 0 };

  // Worker threads take the sweep (this thread keeps its event loop for the other probes' timers);
  // with none, or when one cannot start, this thread's scanner sweeps.
  const workers = Math.max(0, Math.min(options.workers ?? (total < MIN_PORTS_FOR_THREADS ? 0 : Math.min(4, availableParallelism())), scanner.stats.cap - 1));
  const parts = Math.max(1, workers);
  const size = Math.ceil((to - from + 1) / parts);
  const slices = Array.from({ length: parts }, (_, i) => [from + i * size, Math.min(to, from + (i + 1) * size - 1)] as const).filter(([a, b]) => a <= b);
  // Each worker gets an equal share of the cap; one share stays with this thread's other probes.
  const share = Math.max(1, Math.floor(scanner.stats.cap / (workers + 1)));
  const doneBy = new Array<number>(slices.length).fill(0);
  const report = (i: number, done: number) => {
    doneBy[i] = done;
    onProgress?.(doneBy.reduce((a, b) => a + b, 0), total);
  };
  const add = (r: ShardResult) => {
    for (const k of ['open', 'closed', 'filtered', 'error'] as const) counts[k] += r.counts[k];
    openPorts.push(...r.openPorts);
    for (const code of r.errorCodes) errorCodes.add(code);
  };

  await Promise.all(
    slices.map(async ([a, b], i) => {
      if (workers > 0) {
        const giveBack = scanner.lend(share);
        try {
          const r = await sweepInWorker({ host: manifest.gateway, from: a, to: b, skip: except, cap: share, timeoutMs: scanner.timeoutMs }, (done) => report(i, done), scanner);
          // Sockets the workers held count toward the figures this thread reports.
          scanner.stats.attempts += r.attempts;
          scanner.stats.maxOpen += r.maxOpen;
          add(r);
          report(i, r.counts.open + r.counts.closed + r.counts.filtered + r.counts.error);
          return;
        } catch {
          // No worker here (no tcp_wrap in it, no threads): this thread sweeps the slice instead.
        } finally {
          giveBack();
        }
      }
      add(await sweepHere(scanner, manifest.gateway, a, b, skip, (done) => report(i, done)));
    }),
  );
  return { results: [summary(), ...openPorts.sort((x, y) => x - y).map(openRow)], ms: elapsed() };

  function elapsed(): number {
    return Math.round(performance.now() - started);
  }

  function summary(): ProbeResult {
    const measured = `${counts.closed} closed, ${counts.filtered} filtered, ${counts.open} open${counts.error > 0 ? `, ${counts.error} NOT PROBED` : ''}`;
    const problems = [
      ...(counts.open > 0 ? [`${counts.open} gateway port(s) are OPEN: ${openPorts.slice(0, 20).join(', ')}${openPorts.length > 20 ? ' …' : ''}`] : []),
      ...(counts.error > 0 ? [`${counts.error} port(s) could not be probed (${[...errorCodes].join(', ')}): no packet tested them, so nothing shows they are closed; rerun verify (with fewer other programs running, or --max-sockets lower)`] : []),
    ];
    return {
      group: 'gateway',
      probe: `${manifest.gateway} TCP ${from}-${to} except ${except.length ? except.join(',') : 'none'} (${total} ports)`,
      expected: 'all closed',
      measured,
      ok: counts.open === 0 && counts.error === 0,
      ms: elapsed(),
      ...(problems.length > 0 ? { detail: problems.join('; ') } : {}),
    };
  }

  function openRow(p: number): ProbeResult {
    return {
      group: 'gateway',
      probe: `${manifest.gateway}:${p}`,
      expected: 'closed',
      measured: 'open',
      ok: false,
      ms: 0,
      detail: `gateway port ${p} is OPEN — ${describePort(p)} is reachable from the VM`,
    };
  }
}

// One slice on this thread's scanner.
function sweepHere(scanner: TcpScanner, host: string, from: number, to: number, skip: ReadonlySet<number>, onDone: (done: number) => void): Promise<ShardResult> {
  const r: ShardResult = { counts: { open: 0, closed: 0, filtered: 0, error: 0 }, openPorts: [], errorCodes: [], attempts: 0, maxOpen: 0 };
  const total = to - from + 1 - [...skip].filter((p) => p >= from && p <= to).length;
  let port = from;
  let done = 0;
  return new Promise((resolve) => {
    if (total === 0) return resolve(r);
    scanner.scan(
      () => {
        while (port <= to && skip.has(port)) port++;
        return port <= to ? ([host, port++] as const) : undefined;
      },
      (_host, p, state, code) => {
        r.counts[state]++;
        if (state === 'open') r.openPorts.push(p);
        if (state === 'error' && r.errorCodes.length < 5 && !r.errorCodes.includes(code)) r.errorCodes.push(code);
        onDone(++done);
        if (done === total) resolve(r);
      },
    );
  });
}

