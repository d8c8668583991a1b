// nft.conf: the Linux backend's ruleset (`enforce --backend nft`, the lab), the same decisions as
// anchor.pf in nftables terms.

import type { Policy } from '../policy.ts';
import { assertVmName } from './expressible.ts';
import { DEFAULT_VM_IF, gatewayPorts } from './anchor-pf.ts';
import { hashHeader } from './header.ts';
import { DNS_PORT, egressDoors } from '../egress-doors.ts';

export interface NftOptions {
  /** The interface holding the gateway address; written into `define vm_if`. */
  vmIf?: string;
}

// The table's name: `nanopolicy_<vm>` with "-" and "." as "_" (nft identifiers allow neither).
export function nftTableName(policy: Pick<Policy, 'vm'>): string {
  assertVmName(policy);
  return `nanopolicy_${policy.vm.replace(/[-.]/g, '_')}`;
}

// The nflog group the table logs refused packets to (`log group N`), read by the firewall-log
// collector (`tcpdump -i nflog:N`): one per VM, from its table name, so two cages on one host
// log apart. 1–65535 (a 16-bit group; 0 is left out).
export function nflogGroup(policy: Pick<Policy, 'vm'>): number {
  let h = 0x811c9dc5;
  for (const ch of nftTableName(policy)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return 1 + (h % 65535);
}

/** Refused packets logged a second (and the burst): a flood costs the collector no more than this. */
export const NFLOG_RATE = 'limit rate 50/second burst 100 packets';

// The file's text. Load with `nft -f nft.conf`; the whole file is one transaction.
export function emitNftConf(policy: Policy, options: NftOptions = {}): string {
  const table = `inet ${nftTableName(policy)}`;
  const vmIf = options.vmIf ?? DEFAULT_VM_IF;
  if (!/^[A-Za-z0-9_.@-]{1,15}$/.test(vmIf)) throw new Error(`"${vmIf}" is not a Linux interface name.`);
  const { subnet, gateway } = policy.network;
  const ports = gatewayPorts(policy);
  const doors = egressDoors(policy);
  const doorPorts = doors ? [...doors.transparent.map((d) => d.listen), doors.dns] : [];
  // Every verdict on VM traffic counts its packets: verify reads the counters before and after the
  // probes, so a VM that claims "blocked" without sending anything is caught by the host.
  // What is refused is logged first (rate-limited; a rule without a verdict goes on to the next),
  // so `nanopolicy log --refused` shows a client that goes direct instead of only a counter.
  const logRefused = `ip saddr ${subnet} ${NFLOG_RATE} log group ${nflogGroup(policy)}`;
  const reject = [
    logRefused,
    `ip saddr ${subnet} meta l4proto tcp counter reject with tcp reset`,
    `ip saddr ${subnet} counter reject with icmpx admin-prohibited`,
  ];
  // Packets on the VM's interface from any other source (spoofed): softnet passes DHCP-shaped UDP
  // before it checks the source address, and the rules above match the VM by its subnet only.
  const catchAll = ['iifname $vm_if meta l4proto tcp counter reject with tcp reset', 'iifname $vm_if counter reject with icmpx admin-prohibited'];

  const header = hashHeader(policy, [
    `nftables ruleset for the VM "${policy.vm}" (Linux backend). Load it with: nft -f nft.conf`,
    '',
    'vm_if is the interface holding the gateway address. The value below is only a default:',
    'enforce writes the real one here (emitNftConf(policy, { vmIf })). It cannot pass',
    '`nft -D vm_if=…` instead: nft 1.0.6 refuses a -D for a name the file also defines.',
  ]);
  const lines = [
    `define vm_if = "${vmIf}"`,
    '',
    '# Replace the table atomically: `nft -f` applies the whole file as one transaction. The empty',
    '# declaration makes the delete succeed on the first load too (nft 1.0.6 has no `destroy`).',
    `table ${table} {}`,
    `delete table ${table}`,
    '',
    `table ${table} {`,
    ...(doors
      ? [
          '\t# Names lead to the gateway: the VM dials the listed ports and 53 on the gateway; these send',
          '\t# them to the transparent doors and the DNS responder on their high ports (anchor.pf: rdr).',
          '\tchain doors {',
          '\t\ttype nat hook prerouting priority dstnat - 10; policy accept;',
          ...doors.transparent.map((d) => `\t\tip saddr ${subnet} ip daddr ${gateway} tcp dport ${d.port} counter dnat ip to ${gateway}:${d.listen}`),
          `\t\tip saddr ${subnet} ip daddr ${gateway} meta l4proto { tcp, udp } th dport ${DNS_PORT} counter dnat ip to ${gateway}:${doors.dns}`,
          '\t}',
          '',
        ]
      : []),
    '\tchain input {',
    '\t\ttype filter hook input priority filter - 10; policy accept;',
    '\t\t# Replies to connections the host opened to the VM (ssh, the verifier).',
    `\t\tip saddr ${subnet} ct direction reply ct state established,related accept`,
    ...(ports.length > 0
      ? ['\t\t# The bridges: the only gateway ports the VM may open.', ...(policy.proxy ? [`\t\t# ${policy.proxy.listen} is the egress proxy's.`] : []), `\t\tip saddr ${subnet} ip daddr ${gateway} tcp dport { ${ports.join(', ')} } counter accept`]
      : ['\t\t# No bridges: the VM may open no port on the gateway.']),
    ...(doors
      ? ['\t\t# The egress doors, only through the redirections of chain doors (not their high ports dialled directly).',
          `\t\tip saddr ${subnet} ip daddr ${gateway} meta l4proto { tcp, udp } th dport { ${doorPorts.join(', ')} } ct status dnat counter accept`]
      : []),
    '\t\t# DHCP: the lease is 600 s and renewals go unicast to the gateway.',
    `\t\tip saddr { 0.0.0.0, ${subnet} } ip daddr { ${gateway}, 255.255.255.255 } udp sport 68 udp dport 67 accept`,
    "\t\t# IPv6 from the VM's interface (tied to it: interface-free IPv6 rules would hit the LAN).",
    '\t\tiifname $vm_if meta nfproto ipv6 counter reject with icmpv6 admin-prohibited',
    '\t\t# Everything else from the VM: refused at once (RST or ICMP) so clients fail fast.',
    ...reject.map((r) => `\t\t${r}`),
    '\t\t# Anything else on the VM\'s interface, whatever its source address (DHCP, also from',
    '\t\t# 0.0.0.0, was accepted above): softnet lets DHCP-shaped UDP through before it checks the',
    '\t\t# source, so a VM can send from an address outside the subnet, which no rule above matches.',
    ...catchAll.map((r) => `\t\t${r}`),
    '\t}',
    '',
    '\t# Nothing from the VM is forwarded: not to the LAN, not to the internet.',
    '\tchain forward {',
    '\t\ttype filter hook forward priority filter - 10; policy accept;',
    ...reject.map((r) => `\t\t${r}`),
    ...catchAll.map((r) => `\t\t${r}`),
    '\t}',
    '}',
  ];
  return `${header}\n${lines.join('\n')}\n`;
}
