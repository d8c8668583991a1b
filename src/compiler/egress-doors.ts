// Where the egress doors listen on the gateway, from the one policy: the CONNECT proxy on its
// port P, then one transparent door per destination port the egress lines list (ascending) on
// P+1, P+2, …, then the DNS responder on the next. The VM dials 443 (and each other listed port)
// and 53 on the gateway; the firewall redirects those to these ports (anchor.pf `rdr`, nft
// `dnat`), so the listeners need no privileged port and nothing else the Mac runs on 53 or 443
// is in the way (domain.md §8).

import type { Policy } from './policy.ts';

export interface TransparentDoor {
  /** The port the VM dials on the gateway (the destination port listed, e.g. 443). */
  port: number;
  /** Where the door really listens on the gateway. */
  listen: number;
}

export interface EgressDoors {
  transparent: TransparentDoor[];
  /** The DNS responder's port (UDP and TCP); the VM dials 53. */
  dns: number;
}

/** The port the VM's resolver asks on the gateway. */
export const DNS_PORT = 53;
/** How long the VM may keep an answer: short, so a policy change reaches it within a minute. */
export const DNS_TTL = 60;

// The doors' ports for a proxy port and the listed destination ports (any order, repeats allowed).
export function doorPorts(proxyPort: number, destinationPorts: Iterable<number>): EgressDoors {
  const ports = [...new Set(destinationPorts)].sort((a, b) => a - b);
  return { transparent: ports.map((port, i) => ({ port, listen: proxyPort + 1 + i })), dns: proxyPort + 1 + ports.length };
}

// The policy's doors, or undefined when it lists no egress (then no proxy runs).
export function egressDoors(policy: Policy): EgressDoors | undefined {
  if (!policy.proxy) return undefined;
  return doorPorts(policy.proxy.listen, policy.egress.flatMap((r) => r.hosts.map((h) => h.port)));
}
