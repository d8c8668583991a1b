// hosts: lines for the VM's /etc/hosts, so a TLS bridge's name resolves to the gateway and the
// server's certificate (which names the real host) still matches; and each exact egress name, so
// it leads to the transparent door even where the gateway's port 53 cannot be ours. A hosts file
// has no wildcards: a `*.suffix` egress name is reached only through the DNS responder or the
// proxy.

import type { Policy } from '../policy.ts';
import { hashHeader } from './header.ts';

export interface HostsEntry {
  name: string;
  address: string;
}

// One entry per TLS bridge whose target is a host name, sorted by name, without repeats.
export function hostsEntries(policy: Policy): HostsEntry[] {
  const names = new Set(policy.bridges.filter((b) => b.tls && b.target.kind === 'dns').map((b) => b.target.host));
  return [...names].sort().map((name) => ({ name, address: policy.network.gateway }));
}

// One entry per exact egress name that no bridge line already maps, sorted, without repeats.
export function egressHostsEntries(policy: Policy): HostsEntry[] {
  const bridged = new Set(hostsEntries(policy).map((e) => e.name));
  const names = new Set(policy.egress.flatMap((r) => r.hosts.filter((h) => !h.wildcard && !bridged.has(h.host)).map((h) => h.host)));
  return [...names].sort().map((name) => ({ name, address: policy.network.gateway }));
}

// The file's text: `<gateway> <name>` per entry, the bridges' first.
export function emitHosts(policy: Policy): string {
  const header = hashHeader(policy, [`Append to /etc/hosts inside the VM "${policy.vm}".`]);
  const egress = egressHostsEntries(policy);
  const wildcards = policy.egress.flatMap((r) => r.hosts.filter((h) => h.wildcard).map((h) => h.host));
  return header + hostsEntries(policy).map((e) => `${e.address} ${e.name}\n`).join('')
    + (egress.length > 0 ? '# Egress names: to the transparent door on the gateway (needed only where its port 53 is not ours).\n' : '')
    + egress.map((e) => `${e.address} ${e.name}\n`).join('')
    + (wildcards.length > 0 ? `# Not here (a hosts file has no wildcards; the DNS responder answers them): ${[...new Set(wildcards)].join(' ')}\n` : '');
}
