// No way around the bridges: each bridge's real target, dialled directly from the VM, must be blocked.

import dns from 'node:dns';
import net from 'node:net';
import type { VerifyManifest } from '../../formats/verify-manifest.ts';
import type { Endpoint, ProbeResult } from './result.ts';
import type { TcpScanner } from './tcp-scanner.ts';
import { mustBeBlocked } from './must-be-blocked.ts';
import { withTimeout } from './hosts-line.ts';

// Names are dialled at the addresses the host resolved for them; the VM's own hosts file maps them
// to the gateway, which would test the bridge instead of the way around it.
export async function directTargets(
  direct: VerifyManifest['direct'],
  resolved: Record<string, string[]>,
  scanner: TcpScanner,
  timeoutMs: number,
): Promise<ProbeResult[]> {
  const endpoints: Array<Endpoint & { label: string }> = [];
  const unresolved: ProbeResult[] = [];
  for (const d of direct) {
    if (net.isIP(d.host)) {
      endpoints.push({ host: d.host, port: d.port, label: `${d.bridge} target` });
      continue;
    }
    let addresses = resolved[d.host] ?? [];
    if (addresses.length === 0) addresses = await resolveInVm(d.host, timeoutMs);
    if (addresses.length === 0) {
      unresolved.push({
        group: 'direct',
        probe: `${d.host}:${d.port} (${d.bridge} target)`,
        expected: 'blocked',
        measured: 'name does not resolve',
        ok: true,
        ms: 0,
        detail: 'not dialled: no address for the name (pass it from the host, which resolves it)',
      });
    }
    for (const a of addresses) endpoints.push({ host: a, port: d.port, label: `${d.bridge} target ${d.host}` });
  }
  const rows = await mustBeBlocked('direct', endpoints, scanner, (e) =>
    `${e.label ?? e.host} ${e.host}:${e.port} is reachable directly from the VM, around the bridge`,
  );
  return [...rows, ...unresolved];
}

// DNS proper, not the hosts file (which points the name at the gateway).
async function resolveInVm(name: string, timeoutMs: number): Promise<string[]> {
  try {
    return await withTimeout(dns.promises.resolve4(name), timeoutMs);
  } catch {
    return [];
  }
}
