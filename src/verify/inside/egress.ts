// No egress: TCP to public resolvers, web, Apple/GitHub ranges and private ranges must be blocked.

import type { Endpoint, ProbeResult } from './result.ts';
import type { TcpScanner } from './tcp-scanner.ts';
import { mustBeBlocked } from './must-be-blocked.ts';

// One row per endpoint (the caller chooses the built-in list or the `--egress` one).
export function egress(endpoints: ReadonlyArray<Endpoint & { label?: string }>, scanner: TcpScanner): Promise<ProbeResult[]> {
  return mustBeBlocked('egress', endpoints, scanner, (e) =>
    `${e.host}:${e.port}${e.label ? ` (${e.label})` : ''} is reachable from the VM: traffic leaves the cage`,
  );
}
