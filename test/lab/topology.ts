// The lab's namespaces, links, addresses and routes, as `ip -batch` scripts (pure; run by lab.ts).
//
//   vm ──veth── host ──veth── lan
//                 └───veth── wan
//
// Veth pairs are created directly inside their namespaces (`link add … netns`), so nothing ever
// appears in the root namespace. No namespace has a route that leaves the lab: wan, "the internet",
// has no default route at all, so a packet to any address outside the plan dies there.

import { BlockList } from 'node:net';
import { PLAN, assertLabAddress, assertLabPrefix } from './address-plan.ts';

export type Role = 'host' | 'vm' | 'lan' | 'wan';
export const ROLES: readonly Role[] = ['host', 'vm', 'lan', 'wan'];

/** Lab ids are `np` + 5 base-36 characters; namespaces are `<id>-<role>`, at most 12 characters. */
export const LAB_ID_PATTERN = /^np[0-9a-z]{5}$/;
export const LAB_NETNS_PATTERN = /^(np[0-9a-z]{5})-(host|vm|lan|wan)$/;

export interface TopologyOptions {
  vmAddress: string;
  /** Extra addresses for the lan / wan namespaces (beyond PLAN's). */
  lanAddresses: string[];
  wanAddresses: string[];
  /** Gateway on a bridge `<id>-br` with the host's vm veth enslaved, instead of on the veth. */
  vmBridge: boolean;
}

export interface Topology {
  id: string;
  ns: Record<Role, string>;
  /** Host-side interface that holds the gateway address (the stand-in for bridge100). */
  vmInterface: string;
  /** Interface names per namespace. */
  links: { hostToVm: string; bridge: string; hostToLan: string; hostToWan: string; vm: string; lan: string; wan: string };
  /** Commands for `ip -batch -` in the root namespace (namespaces and veth pairs). */
  rootBatch: string;
  /** Per namespace: sysctl settings, then `ip -n <ns> -batch -` for links/addresses, then for routes. */
  sysctls: Record<Role, Record<string, string>>;
  addressBatch: Record<Role, string>;
  routeBatch: Record<Role, string>;
}

// Builds the ip-batch scripts for a lab with this id.
export function planTopology(id: string, opts: TopologyOptions): Topology {
  if (!LAB_ID_PATTERN.test(id)) throw new Error(`Bad lab id "${id}".`);
  const ns = { host: `${id}-host`, vm: `${id}-vm`, lan: `${id}-lan`, wan: `${id}-wan` };
  // Interface names are per namespace, but carry the id anyway so a leak would be traceable.
  const links = {
    hostToVm: `${id}-vm`,
    bridge: `${id}-br`,
    hostToLan: `${id}-lan`,
    hostToWan: `${id}-wan`,
    vm: `${id}-eth0`,
    lan: `${id}-eth0`,
    wan: `${id}-eth0`,
  };
  const { vmSide, lan, wan } = PLAN;
  const vmAddress = assertLabAddress(opts.vmAddress, 'VM address');
  if (!vmAddress.startsWith('192.168.64.') || vmAddress === vmSide.gateway) {
    throw new Error(`VM address "${vmAddress}" must be in ${vmSide.subnet} and not the gateway.`);
  }
  const lanAddresses = unique([...lan.services, ...lan.services6, ...opts.lanAddresses.map((a) => assertLabAddress(a))]);
  const wanAddresses = unique([
    ...[wan.upstream, wan.web, wan.dns, wan.upstream6, wan.web6, wan.dns6],
    ...opts.wanAddresses.map((a) => assertLabAddress(a)),
  ]);

  const rootBatch = [
    ...ROLES.map((r) => `netns add ${ns[r]}`),
    `link add ${links.hostToVm} netns ${ns.host} type veth peer name ${links.vm} netns ${ns.vm}`,
    `link add ${links.hostToLan} netns ${ns.host} type veth peer name ${links.lan} netns ${ns.lan}`,
    `link add ${links.hostToWan} netns ${ns.host} type veth peer name ${links.wan} netns ${ns.wan}`,
  ];

  // Why no DAD: duplicate address detection keeps IPv6 addresses "tentative" for ~1 s, which
  // would make every lab slow to build and IPv6 probes flaky right after createLab.
  // The veths already exist when these run, so their own entries are set too.
  const noDad = (...devs: string[]) =>
    Object.fromEntries(['all', 'default', ...devs].map((d) => [`net.ipv6.conf.${d}.accept_dad`, '0']));
  const sysctls: Record<Role, Record<string, string>> = {
    // A bridge is made later, by the address batch, and takes `default` then.
    host: { ...noDad(links.hostToVm, links.hostToLan, links.hostToWan), 'net.ipv4.ip_forward': '1', 'net.ipv6.conf.all.forwarding': '1' },
    vm: noDad(links.vm),
    lan: noDad(links.lan),
    wan: noDad(links.wan),
  };

  const gatewayDev = opts.vmBridge ? links.bridge : links.hostToVm;
  const addr = (address: string, bits: number, dev: string) =>
    `addr add ${assertLabAddress(address)}/${bits} dev ${dev}${address.includes(':') ? ' nodad' : ''}`;
  const up = (...devs: string[]) => ['link set lo up', ...devs.map((d) => `link set ${d} up`)];

  const addressBatch: Record<Role, string[]> = {
    host: [
      ...(opts.vmBridge ? [`link add ${links.bridge} type bridge forward_delay 0`, `link set ${links.hostToVm} master ${links.bridge}`] : []),
      ...up(...(opts.vmBridge ? [links.bridge] : []), links.hostToVm, links.hostToLan, links.hostToWan),
      addr(vmSide.gateway, 24, gatewayDev),
      addr(vmSide.gateway6, 64, gatewayDev),
      addr(lan.host, 24, links.hostToLan),
      addr(lan.host6, 64, links.hostToLan),
      addr(wan.host, 24, links.hostToWan),
      addr(wan.host6, 64, links.hostToWan),
    ],
    vm: [...up(links.vm), addr(vmAddress, 24, links.vm), addr(vmSide.vm6, 64, links.vm)],
    lan: [
      ...up(links.lan),
      ...lanAddresses.map((a) => addr(a, bitsIn(a, lan.subnet, lan.subnet6), links.lan)),
    ],
    wan: [
      ...up(links.wan),
      ...wanAddresses.map((a) => addr(a, bitsIn(a, wan.subnet, wan.subnet6), links.wan)),
    ],
  };

  const via = (dst: string, gw: string) => `route add ${assertLabPrefix(dst)} via ${assertLabAddress(gw)}`;
  const routeBatch: Record<Role, string[]> = {
    // The host's "internet" is wan's upstream address; there is no way further out.
    host: [
      `route add default via ${wan.upstream}`,
      `route add ::/0 via ${wan.upstream6}`,
      // lan addresses outside the lan subnet (say 192.0.2.5 standing in for a 10.x service)
      ...lanAddresses
        .filter((a) => !inSubnet(a, a.includes(':') ? lan.subnet6 : lan.subnet))
        .map((a) => `route add ${a}/${a.includes(':') ? 128 : 32} via ${a.includes(':') ? lan.services6[0] : lan.services[0]}`),
    ],
    vm: [`route add default via ${vmSide.gateway}`, `route add ::/0 via ${vmSide.gateway6}`],
    lan: [`route add default via ${lan.host}`, `route add ::/0 via ${lan.host6}`],
    // Only the lab's own prefixes lead back to the host: unknown destinations get "unreachable"
    // here instead of bouncing between host and wan until the TTL runs out.
    wan: [
      via(vmSide.subnet, wan.host),
      via(lan.subnet, wan.host),
      via(vmSide.subnet6, wan.host6),
      via(lan.subnet6, wan.host6),
    ],
  };

  const join = (lines: string[]) => `${lines.join('\n')}\n`;
  return {
    id,
    ns,
    vmInterface: gatewayDev,
    links,
    rootBatch: join(rootBatch),
    sysctls,
    addressBatch: mapRoles((r) => join(addressBatch[r])),
    routeBatch: mapRoles((r) => join(routeBatch[r])),
  };
}

// Builds a record with one value per role.
export function mapRoles<T>(fn: (role: Role) => T): Record<Role, T> {
  return { host: fn('host'), vm: fn('vm'), lan: fn('lan'), wan: fn('wan') };
}

// Prefix length for an address in a namespace: the link's subnet when inside it, else a host route.
function bitsIn(address: string, subnet: string, subnet6: string): number {
  if (address.includes(':')) return inSubnet(address, subnet6) ? 64 : 128;
  return inSubnet(address, subnet) ? 24 : 32;
}

// True when `address` lies in `cidr`.
function inSubnet(address: string, cidr: string): boolean {
  const [network, bits] = cidr.split('/') as [string, string];
  const list = new BlockList();
  list.addSubnet(network, Number(bits), network.includes(':') ? 'ipv6' : 'ipv4');
  return list.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
}

// The list without repeats, first occurrence kept.
function unique(list: string[]): string[] {
  return [...new Set(list)];
}
