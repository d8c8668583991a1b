// Shared by the direct-targets and egress probes: TCP to each endpoint must not complete.

import type { Endpoint, ProbeResult } from './result.ts';
import type { TcpScanner } from './tcp-scanner.ts';

// One row per endpoint; refused and filtered both count as blocked (pf's `block return` answers RST).
// A probe that could not be tried (no socket, no local port …) proves nothing and fails its row.
export function mustBeBlocked(
  group: string,
  endpoints: ReadonlyArray<Endpoint & { label?: string }>,
  scanner: TcpScanner,
  explain: (e: Endpoint & { label?: string }) => string,
): Promise<ProbeResult[]> {
  return Promise.all(
    endpoints.map(async (e) => {
      const { state, code, ms } = await scanner.probe(e.host, e.port);
      const ok = state === 'closed' || state === 'filtered';
      const where = e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
      const measured = { open: 'OPEN', closed: `refused (${code})`, filtered: `no answer (${code})`, error: `NOT PROBED (${code})` }[state];
      const detail =
        state === 'error'
          ? `the probe could not try this path (${code}): no packet was sent, so nothing shows it is blocked; rerun verify (with fewer other programs running, or --max-sockets lower)`
          : explain(e);
      return {
        group,
        probe: e.label ? `${where} (${e.label})` : where,
        expected: 'blocked',
        measured,
        ok,
        ms: Math.round(ms),
        ...(ok ? {} : { detail }),
      };
    }),
  );
}
