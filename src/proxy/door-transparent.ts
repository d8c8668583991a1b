// The transparent door: a listener on the gateway that stands for one destination port (pf `rdr`
// or nft `dnat` send the VM's gateway:443 here). The client never names its destination except in
// its TLS ClientHello, so the SNI is the name and the door's port is the port; then the core
// applies exactly what the CONNECT door gets. No SNI, an IP literal or ECH: refused with an alert.

import { invalidHostName, looksLikeIpLiteral, normaliseName, printable } from './host-name.ts';
import type { Tunnel } from './egress-core.ts';

// Reads the first hello, takes its SNI as the name, and lets the core decide and connect.
export function openTransparentDoor(tunnel: Tunnel, port: number): void {
  tunnel.port = port;
  tunnel.follow(Buffer.alloc(0), async (hello) => {
    if (hello.sni === undefined) return 'ClientHello has no SNI (the transparent door knows the name only from it)';
    if (hello.ech) return 'encrypted ClientHello (ECH) hides the real name';
    const name = normaliseName(hello.sni);
    tunnel.name = printable(name, 253);
    // RFC 6066 §3: a literal IPv4 or IPv6 address is not permitted in host_name.
    if (looksLikeIpLiteral(name) || name.includes(':')) return 'SNI is an IP address, not a name';
    const problem = invalidHostName(name);
    if (problem) return `SNI is not a valid DNS name: ${problem}`;
    const connected = await tunnel.decide(name, port);
    // decide() has answered and recorded every refusal itself.
    return connected ? undefined : 'refused';
  });
}
