// Every TCP port of the gateway but the bridges must be closed: the host's own services (SSH, SMB,
// AirPlay, screen sharing) listen on the gateway address too, and Softnet passes the gateway by default.

import { availableParallelism } from 'node:os';
import type { VerifyManifest } from '../../formats/verify-manifest.ts';
import type { ProbeResult } from './result.ts';
import { PORT_CODE, sweepInWorker, sweepOnThisThread, type TcpScanner, type PortState, type ShardResult } from './tcp-scanner.ts';
import { describePort } from './port-names.ts';

export interface SweepProgress {
  (done: number, total: number): void;
}

export interface SweepOptions {
  /** Worker threads that sweep beside this thread (default: one per core but this thread's, at most 3; none under 4,096 ports). */
  workers?: number;
}

/** Below this many ports a worker thread costs more to start than it saves. */
const MIN_PORTS_FOR_THREADS = 4096;

// Connects to each port in the sweep range; one summary row plus one row per open port.
// This thread and worker threads share the range (each under its share of the cap); this thread
// finishes what they leave.
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

  // This thread and its worker threads share the sweep: they claim chunks of ports from one
  // shared cursor, so a thread that gets less of the machine sweeps fewer ports instead of holding
  // up the end (with fixed slices, the sweep lasted as long as its slowest thread), and write each
  // port's outcome into one shared array. This thread's part runs on its event loop beside the
  // other probes' timers (every answer is handled before a timeout is called, deadline.ts). What
  // no thread finished (no tcp_wrap here, or a worker died) this thread sweeps after them through
  // the scanner, so every port ends with one outcome, counted once.
  const workers = Math.max(0, Math.min(options.workers ?? (total < MIN_PORTS_FOR_THREADS ? 0 : Math.min(4, availableParallelism()) - 1), scanner.stats.cap - 2));
  const states = new Uint8Array(new SharedArrayBuffer(65536));
  const cursor = new Int32Array(new SharedArrayBuffer(4));
  cursor[0] = from;
  // Each sweeping thread gets an equal share of the cap; one share stays with the other probes.
  const share = Math.max(1, Math.floor(scanner.stats.cap / (workers + 2)));
  const doneBy = new Array<number>(workers + 1).fill(0);
  const report = (i: number, done: number) => {
    doneBy[i] = done;
    onProgress?.(Math.min(total, doneBy.reduce((a, b) => a + b, 0)), total);
  };
  const input = { host: manifest.gateway, from, to, skip: except, cap: share, timeoutMs: scanner.timeoutMs, cursor, states };

  await Promise.all(
    Array.from({ length: workers + 1 }, async (_, i) => {
      const giveBack = scanner.lend(share);
      try {
        const onDone = (done: number) => report(i, done);
        // Share 0 is this thread's, started at once; the workers take ~30 ms to boot.
        const r = await (i === 0 ? sweepOnThisThread(input, onDone, scanner) : sweepInWorker(input, onDone, scanner));
        // Sockets the shards held count toward the figures this thread reports.
        scanner.stats.attempts += r.attempts;
        scanner.stats.maxOpen += r.maxOpen;
        for (const code of r.errorCodes) errorCodes.add(code);
        report(i, r.counts.open + r.counts.closed + r.counts.filtered + r.counts.error);
      } catch {
        // No tcp_wrap or no threads here, or a worker died: its unfinished ports are left at 0.
      } finally {
        giveBack();
      }
    }),
  );
  const left: number[] = [];
  for (let p = from; p <= to; p++) if (states[p] === 0 && !skip.has(p)) left.push(p);
  // From here progress is what the array holds (a worker that died reported less than it did).
  doneBy.fill(0);
  const here = await sweepHere(scanner, manifest.gateway, left, states, (done) => report(0, total - left.length + done));
  for (const code of here.errorCodes) errorCodes.add(code);

  const stateOf: Array<PortState | undefined> = [];
  for (const [state, code] of Object.entries(PORT_CODE)) stateOf[code] = state as PortState;
  for (let p = from; p <= to; p++) {
    const state = stateOf[states[p]!];
    if (state === undefined) continue; // a skipped port
    counts[state]++;
    if (state === 'open') openPorts.push(p);
  }
  return { results: [summary(), ...openPorts.map(openRow)], ms: elapsed() };

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

// The given ports on this thread's scanner, each outcome written into states.
function sweepHere(scanner: TcpScanner, host: string, ports: readonly number[], states: Uint8Array, onDone: (done: number) => void): Promise<Pick<ShardResult, 'errorCodes'>> {
  const errorCodes: string[] = [];
  let next = 0;
  let done = 0;
  return new Promise((resolve) => {
    if (ports.length === 0) return resolve({ errorCodes });
    scanner.scan(
      () => (next < ports.length ? ([host, ports[next++]!] as const) : undefined),
      (_host, p, state, code) => {
        states[p] = PORT_CODE[state];
        if (state === 'error' && errorCodes.length < 5 && !errorCodes.includes(code)) errorCodes.push(code);
        onDone(++done);
        if (done === ports.length) resolve({ errorCodes });
      },
    );
  });
}
