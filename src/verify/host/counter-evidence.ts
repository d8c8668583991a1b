// Host-side evidence for the VM's rows: the firewall counters must have risen by at least what the
// report claims crossed the firewall. Only traffic to the gateway is counted: on a Mac, softnet
// drops traffic to other addresses in user space before the host's kernel (and pf) ever sees it.

import type { VerifyManifest } from '../../formats/verify-manifest.ts';
import type { ProbeResult } from '../inside/result.ts';
import type { FirewallCounters } from './firewall-counters.ts';
import { hostRow } from './host-result.ts';

export interface Claims {
  /** Packets the report implies were refused at the gateway. */
  blocked: number;
  /** Connections the report says went through a bridge. */
  bridged: number;
}

// What the VM's (already checked) rows claim: every swept port refused at least one SYN, every
// silent DNS query to the gateway one datagram, every open bridge one connection.
export function claimsOf(rows: readonly ProbeResult[], manifest: VerifyManifest): Claims {
  const { from, to, except } = manifest.gatewaySweep;
  const swept = to - from + 1 - except.filter((p) => p >= from && p <= to).length;
  const gatewayRows = rows.filter((r) => r.group === 'gateway');
  const summary = gatewayRows.find((r) => r.expected === 'all closed');
  const openPorts = gatewayRows.filter((r) => r !== summary).length;
  const sweepClaim = summary ? Math.max(0, swept - openPorts) : 0;
  const dnsClaim = rows.filter((r) => r.group === 'dns' && r.ok && r.probe.startsWith(`UDP ${manifest.gateway}:`)).length;
  return { blocked: sweepClaim + dnsClaim, bridged: rows.filter((r) => r.group === 'bridges' && r.ok).length };
}

// One row: the counters rose enough, or by how much too little.
export function counterEvidence(before: FirewallCounters | string, after: FirewallCounters | string, claims: Claims, what: string): ProbeResult {
  const probe = `${what} counters vs the VM's report`;
  const expected = `+${claims.blocked} refused, +${claims.bridged} bridged`;
  if (typeof before === 'string' || typeof after === 'string') {
    const why = typeof before === 'string' ? before : (after as string);
    return hostRow(probe, expected, 'UNREADABLE', false, 0, `the ${what} counters could not be read (${why}): nothing on the host confirms the VM's report`);
  }
  const blocked = after.blocked - before.blocked;
  const bridged = after.bridged - before.bridged;
  const ok = blocked >= claims.blocked && bridged >= claims.bridged;
  return hostRow(probe, expected, `+${blocked} refused, +${bridged} bridged`, ok, 0,
    `the ${what} counters rose by ${blocked} refused and ${bridged} bridged packets, less than the VM's report claims (${claims.blocked} and ${claims.bridged}): the probes did not really cross the firewall, so the report is forged`);
}
