// anchor.pf: the host's kernel filter for the VM subnet, as a pf anchor under com.apple/
// (macOS pf.conf grammar, the 2008-era FreeBSD/xnu one; domain.md §4b).

import type { Policy } from '../policy.ts';
import { anchorName } from '../policy.ts';
import { assertVmName } from './expressible.ts';
import { hashHeader } from './header.ts';
import { DNS_PORT, egressDoors } from '../egress-doors.ts';

/** The tag the anchor's `rdr` rules put on the packets they send to the egress doors. */
export const DOOR_TAG = 'NP_EGRESS_DOOR';

/** What `vm_if` holds when nobody passes the real interface: only a default that parses. */
export const DEFAULT_VM_IF = 'bridge100';

export interface AnchorOptions {
  /** The interface holding the gateway address, if known: written into the `vm_if` macro. */
  vmIf?: string;
}

// The bridges' listen ports, ascending and without repeats.
export function bridgePorts(policy: Policy): number[] {
  return [...new Set(policy.bridges.map((b) => b.listen))].sort((a, b) => a - b);
}

// Every gateway port the VM may open: the bridges' and, with egress, the proxy's.
export function gatewayPorts(policy: Policy): number[] {
  return [...new Set([...bridgePorts(policy), ...(policy.proxy ? [policy.proxy.listen] : [])])].sort((a, b) => a - b);
}

// The anchor file's text. Every rule is `quick`, so its order below is the order pf decides in.
export function emitAnchor(policy: Policy, options: AnchorOptions = {}): string {
  assertVmName(policy);
  const vmIf = options.vmIf ?? DEFAULT_VM_IF;
  if (!/^[A-Za-z0-9]+$/.test(vmIf)) throw new Error(`"${vmIf}" is not an interface name pf can take.`);
  const anchor = anchorName(policy);
  const ports = gatewayPorts(policy);
  const lines: string[] = [];
  const out = (...more: string[]) => lines.push(...more);

  out(
    `vm_net = "${policy.network.subnet}"`,
    `gw = "${policy.network.gateway}"`,
  );
  if (ports.length > 0) out(`bridge_ports = "{ ${ports.join(' ')} }"`);
  const doors = egressDoors(policy);
  out(
    '# The interface holding $gw, for the IPv6 rule and the final catch-all. The value here is only a default:',
    '# the bridge number is not stable (another hypervisor may hold bridge100), so enforce finds the',
    '# interface by the gateway address and loads this file with `pfctl -D vm_if=<interface>`.',
    '# A -D macro is persistent and a file assignment of the same name is then ignored (pfctl',
    '# parse.y: symset() returns early when the name already holds a persistent value).',
    `vm_if = "${vmIf}"`,
    '',
  );
  if (doors) {
    out(
      '# Names lead to the gateway: the VM dials the listed ports and 53 on $gw, and these redirect',
      '# them to the transparent doors and the DNS responder, which listen on free high ports (so',
      '# nothing else the Mac runs on 53 or 443 is in the way). pf.conf\'s `rdr-anchor "com.apple/*"`',
      '# evaluates them; translation rules come before filter rules in a file. The tag lets the pass',
      '# rules below open the doors only to redirected packets, not their high ports dialled directly.',
      ...doors.transparent.map((d) => `rdr inet proto tcp from $vm_net to $gw port ${d.port} tag ${DOOR_TAG} -> $gw port ${d.listen}`),
      `rdr inet proto { tcp, udp } from $vm_net to $gw port ${DNS_PORT} tag ${DOOR_TAG} -> $gw port ${doors.dns}`,
      '',
    );
  }
  out(
    '# Rules match the VM by its subnet, never `on bridge100` (that name differs between Macs; the',
    '# subnet does not). Every rule is `quick`: the first match decides, whatever comes after.',
    '',
    '# Connections the host opens to the VM (ssh, the verifier) create state here; without it',
    '# their replies would come in from $vm_net and hit the last rule.',
    'pass out quick inet from $gw to $vm_net keep state',
  );
  if (ports.length > 0) {
    out(
      '# The bridges: the only gateway ports the VM may open; socat listens there.',
      ...(policy.proxy ? [`# ${policy.proxy.listen} is the egress proxy's: HTTPS by name, to the names the policy lists.`] : []),
      'pass in quick inet proto tcp from $vm_net to $gw port $bridge_ports flags S/SA keep state',
    );
  } else {
    out('# No bridges: the VM may open no port on the gateway.');
  }
  if (doors) {
    out(
      '# The egress doors, reached only through the redirections above: HTTPS by TLS server name, and',
      '# DNS answered from the policy alone (never forwarded).',
      `pass in quick inet proto tcp from $vm_net to $gw port { ${doors.transparent.map((d) => d.listen).join(' ')} } tagged ${DOOR_TAG} flags S/SA keep state`,
      `pass in quick inet proto tcp from $vm_net to $gw port ${doors.dns} tagged ${DOOR_TAG} flags S/SA keep state`,
      `pass in quick inet proto udp from $vm_net to $gw port ${doors.dns} tagged ${DOOR_TAG} keep state`,
    );
  }
  out(
    "# DHCP: softnet's lease is 600 s and renewals go unicast to the gateway; without this the",
    '# VM loses its address ten minutes after boot.',
    'pass in quick inet proto udp from { $vm_net, 0.0.0.0 } port 68 to { $gw, 255.255.255.255 } port 67 keep state',
    "# IPv6 from the VM's interface. It needs the interface: an interface-free IPv6 rule would",
    '# also match the LAN (fe80::/10 is on every link). This also stops NDP to the host.',
    'block return in log quick on $vm_if inet6 all',
    "# Everything else from the VM: the host's other services on the gateway (ssh, SMB, screen",
    `# sharing), DNS to the gateway${doors ? ' that is not redirected above' : ''}, and all that would be forwarded to the LAN or the internet.`,
    '# `block return` answers TCP with a RST and the rest with ICMP unreachable, so probes and',
    '# clients fail at once instead of hanging until a timeout.',
    'block return in log quick inet from $vm_net to any',
    '# Anything else that arrives on the VM\'s interface, whatever its source address. softnet lets',
    '# DHCP-shaped UDP (to 255.255.255.255, source port 68 or destination port 67) through before it',
    '# checks the source address, so the VM can send from an address outside $vm_net, which no rule',
    '# above matches; without this such packets would pass (pf passes what matches no rule). DHCP,',
    '# also from 0.0.0.0, passed above; replies to the host\'s own connections match their state.',
    'block return in log quick on $vm_if all',
  );

  const header = hashHeader(policy, [
    `pf anchor for the VM "${policy.vm}". Load it (as root) with:`,
    `  pfctl -a ${anchor} -D vm_if=<interface holding ${policy.network.gateway}> -f anchor.pf`,
    'The stock /etc/pf.conf evaluates every anchor directly under com.apple/ (anchor "com.apple/*").',
  ]);
  return `${header}\n${lines.join('\n')}\n`;
}
