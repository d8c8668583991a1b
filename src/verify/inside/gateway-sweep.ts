// Every TCP port of the gateway but the bridges must be closed: the host's own services (SSH, SMB,
// AirPlay, screen sharing) listen on the gateway address too, and Softnet passes the gateway by default.

import type { VerifyManifest } from '../manifest.ts';
import type { ProbeResult } from './result.ts';
import type { TcpScanner, PortState } from './tcp-scanner.ts';
import { describePort } from './port-names.ts';

export interface SweepProgress {
  (done: number, total: number): void;
}

// Connects to each port in the sweep range; one summary row plus one row per open port.
export function gatewaySweep(
  manifest: Pick<VerifyManifest, 'gateway' | 'gatewaySweep'>,
  scanner: TcpScanner,
  onProgress?: SweepProgress,
): Promise<{ results: ProbeResult[]; ms: number }> {
  const { from, to, except } = manifest.gatewaySweep;
  const skip = new Set(except);
  const total = to - from + 1 - [...skip].filter((p) => p >= from && p <= to).length;
  const counts: Record<PortState, number> = { open: 0, closed: 0, filtered: 0 };
  const openPorts: number[] = [];
  const started = performance.now();
  let port = from;
  let done = 0;
  return new Promise((resolve) => {
    if (total === 0) return resolve({ results: [summary()], ms: 0 });
    scanner.scan(
      () => {
        while (port <= to && skip.has(port)) port++;
        return port <= to ? ([manifest.gateway, port++] as const) : undefined;
      },
      (_host, p, state) => {
        counts[state]++;
        if (state === 'open') openPorts.push(p);
        done++;
        onProgress?.(done, total);
        if (done === total) resolve({ results: [summary(), ...openPorts.sort((a, b) => a - b).map(openRow)], ms: elapsed() });
      },
    );
  });

  function elapsed(): number {
    return Math.round(performance.now() - started);
  }

  function summary(): ProbeResult {
    const measured = `${counts.closed} closed, ${counts.filtered} filtered, ${counts.open} open`;
    return {
      group: 'gateway',
      probe: `${manifest.gateway} TCP ${from}-${to} except ${except.length ? except.join(',') : 'none'} (${total} ports)`,
      expected: 'all closed',
      measured,
      ok: counts.open === 0,
      ms: elapsed(),
      ...(counts.open > 0 ? { detail: `${counts.open} gateway port(s) are OPEN: ${openPorts.slice(0, 20).join(', ')}${openPorts.length > 20 ? ' …' : ''}` } : {}),
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
