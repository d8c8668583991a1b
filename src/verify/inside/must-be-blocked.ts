// Shared by the direct-targets and egress probes: TCP to each endpoint must not complete.

import type { Endpoint, ProbeResult } from './result.ts';
import type { TcpScanner } from './tcp-scanner.ts';

// One row per endpoint; refused and filtered both count as blocked (pf's `block return` answers RST).
export function mustBeBlocked(
  group: string,
  endpoints: ReadonlyArray<Endpoint & { label?: string }>,
  scanner: TcpScanner,
  explain: (e: Endpoint & { label?: string }) => string,
): Promise<ProbeResult[]> {
  return Promise.all(
    endpoints.map(async (e) => {
      const { state, code, ms } = await scanner.probe(e.host, e.port);
      const ok = state !== 'open';
      const where = e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
      return {
        group,
        probe: e.label ? `${where} (${e.label})` : where,
        expected: 'blocked',
        measured: state === 'open' ? 'OPEN' : `${state === 'closed' ? 'refused' : 'no answer'} (${code})`,
        ok,
        ms: Math.round(ms),
        ...(ok ? {} : { detail: explain(e) }),
      };
    }),
  );
}
