// hosts: lines for the VM's /etc/hosts, so a TLS bridge's name resolves to the gateway and the
// server's certificate (which names the real host) still matches.

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

// The file's text: `<gateway> <name>` per entry.
export function emitHosts(policy: Policy): string {
  const header = hashHeader(policy, [`Append to /etc/hosts inside the VM "${policy.vm}".`]);
  return header + hostsEntries(policy).map((e) => `${e.address} ${e.name}\n`).join('');
}
