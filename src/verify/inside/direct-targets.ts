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
  resolveName: (name: string, timeoutMs: number) => Promise<string[]> = resolveInVm,
): Promise<ProbeResult[]> {
  const endpoints: Array<Endpoint & { label: string }> = [];
  const unresolved: ProbeResult[] = [];
  for (const d of direct) {
    if (net.isIP(d.host)) {
      endpoints.push({ host: d.host, port: d.port, label: `${d.bridge} target` });
      continue;
    }
    let addresses = resolved[d.host] ?? [];
    if (addresses.length === 0) addresses = await resolveName(d.host, timeoutMs);
    if (addresses.length === 0) {
      unresolved.push({
        group: 'direct',
        probe: `${d.host}:${d.port} (${d.bridge} target)`,
        expected: 'blocked',
        measured: 'NOT RUN (name does not resolve)',
        // A way around the bridge that was never dialled is not shown blocked (issue 24).
        ok: false,
        ms: 0,
        detail: `the way around the bridge "${d.bridge}" to ${d.host}:${d.port} was not tried: neither the host nor the VM resolved the name, so whether it is blocked is unknown (verify from the host resolves it; --skip direct leaves the group out)`,
      });
    }
    for (const a of addresses) endpoints.push({ host: a, port: d.port, label: `${d.bridge} target ${d.host}` });
  }
  const rows = await mustBeBlocked('direct', endpoints, scanner, (e) =>
    `${e.label ?? e.host} ${e.host}:${e.port} is reachable directly from the VM, around the bridge`,
  );
  return [...rows, ...unresolved];
}

// DNS proper, not the hosts file (which points the name at the gateway). c-ares, asked once and
// cancelled at the deadline: its sockets would otherwise keep the process alive for the system's
// own timeouts and retries (issue 24).
async function resolveInVm(name: string, timeoutMs: number): Promise<string[]> {
  const resolver = new dns.promises.Resolver({ timeout: timeoutMs, tries: 1 });
  try {
    return await withTimeout(resolver.resolve4(name), timeoutMs);
  } catch {
    return [];
  } finally {
    resolver.cancel();
  }
}
