// Whether an address can be the VM's: it comes from tart or the command line and narrows every
// bridge's range=, so it must be a host address of the policy's subnet other than the gateway.

import { parseCidr4 } from '../compiler/effective-network.ts';
import { broadcastOf, inCidr, parseIpv4 } from '../net/ipv4.ts';

export function isVmAddress(address: string, subnet: string, gateway: string): boolean {
  const a = parseIpv4(address);
  const cidr = parseCidr4(subnet);
  if (!a.ok || !cidr.ok || cidr.value.prefix > 30 || address === gateway) return false;
  return inCidr(a.value, cidr.value) && a.value !== cidr.value.network && a.value !== broadcastOf(cidr.value);
}
