// The firewall's own packet counters for the VM's traffic: what was refused and what the bridge
// rules let through. Read before and after the probes, they are the host's evidence that the probes
// really crossed the firewall; the VM's rows alone prove nothing (docs/threat-model.md).

import type { Policy } from '../../compiler/policy.ts';
import type { EnforceArtifacts } from '../../compiler/enforce-artifacts.ts';
import { PFCTL } from '../../compiler/emit/pfctl-commands.ts';
import type { RunCommand } from '../../host/run-command.ts';

export interface FirewallCounters {
  /** Packets refused by the block/reject rules. */
  blocked: number;
  /** Packets the bridge rules let through. */
  bridged: number;
}

// nft: every `counter packets N bytes M` followed by its verdict; accepts are the bridge rule.
export function parseNftCounters(text: string): FirewallCounters {
  const out = { blocked: 0, bridged: 0 };
  for (const m of text.matchAll(/counter packets (\d+) bytes \d+ (accept|reject|drop)\b/g)) {
    if (m[2] === 'accept') out.bridged += Number(m[1]);
    else out.blocked += Number(m[1]);
  }
  return out;
}

// pf: `pfctl -a ANCHOR -vsr` prints each rule followed by `[ Evaluations: … Packets: N … ]`; block
// rules count as refused, TCP pass rules in to the gateway's ports as bridged (our anchor has no
// other; pf expands the port list one rule per port and may print a port as a service name).
export function parsePfCounters(text: string, gateway: string): FirewallCounters {
  const out = { blocked: 0, bridged: 0 };
  let kind: 'block' | 'bridge' | 'other' = 'other';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (/^(pass|block)\b/.test(line)) {
      const isBridge = line.startsWith('pass') && / in /.test(line) && / proto tcp /.test(line) && line.includes(` to ${gateway} port = `);
      kind = line.startsWith('block') ? 'block' : isBridge ? 'bridge' : 'other';
      continue;
    }
    const packets = /\bPackets:\s*(\d+)/.exec(line);
    if (!packets || !line.startsWith('[')) continue;
    if (kind === 'block') out.blocked += Number(packets[1]);
    else if (kind === 'bridge') out.bridged += Number(packets[1]);
    kind = 'other';
  }
  return out;
}

// Reads the counters of our table or anchor; a string says why they could not be read.
export async function readCounters(policy: Policy, artifacts: EnforceArtifacts, backend: 'pf' | 'nft', run: RunCommand, asRoot = false): Promise<FirewallCounters | string> {
  if (backend === 'nft') {
    const r = await run(['nft', 'list', 'table', 'inet', artifacts.nftTable]);
    return r.exitCode === 0 ? parseNftCounters(r.stdout) : `nft list table failed (${r.stderr.trim().split('\n')[0] ?? r.exitCode})`;
  }
  // The compiled sudoers file allows exactly this command.
  const args = artifacts.pfctl.showAnchorCounters;
  const r = await run(asRoot ? [PFCTL, ...args] : ['sudo', '-n', PFCTL, ...args]);
  return r.exitCode === 0 ? parsePfCounters(r.stdout, policy.network.gateway) : `pfctl -v -sr failed (${r.stderr.trim().split('\n')[0] ?? r.exitCode}): install the compiled sudoers lines, or run verify as root`;
}
