// The VM network a policy means: its `network` line, or softnet's defaults (domain.md §4):
// 192.168.64.0/24 with the gateway at its first address.

import type { PolicyAst } from '../grammar/ast.ts';
import { DEFAULT_SUBNET } from './policy.ts';
import { findOption, statementsOf } from './check-context.ts';
import { parseIpv4, prefixMask, type Cidr4 } from '../net/ipv4.ts';

export interface EffectiveNetwork {
  subnet: Cidr4;
  gateway: number;
}

// The subnet and gateway in force, or undefined when the policy writes them wrongly (the network
// pass reports that; other passes then skip what depends on the network).
export function effectiveNetwork(ast: PolicyAst): EffectiveNetwork | undefined {
  const line = statementsOf(ast, 'network')[0];
  const subnetText = (line && findOption(line, 'subnet')?.value?.value) ?? DEFAULT_SUBNET;
  const gatewayText = line && findOption(line, 'gateway')?.value?.value;
  const subnet = parseCidr4(subnetText);
  if (!subnet.ok) return undefined;
  // vmnet gives the host the subnet's first address, so a subnet alone implies its gateway.
  if (gatewayText === undefined) {
    return { subnet: subnet.value, gateway: subnet.value.network + 1 };
  }
  const gateway = parseIpv4(gatewayText);
  return gateway.ok ? { subnet: subnet.value, gateway: gateway.value } : undefined;
}

export type CidrParse = { ok: true; value: Cidr4 } | { ok: false; reason: string };

// Parses "a.b.c.d/n" and refuses host bits, so that "192.168.64.1/24" is never silently widened.
export function parseCidr4(text: string): CidrParse {
  const [addressText = '', prefixText = '', extra] = text.split('/');
  if (extra !== undefined) return { ok: false, reason: 'it has more than one "/"' };
  const address = parseIpv4(addressText);
  if (!address.ok) return { ok: false, reason: `the address is not valid: ${address.reason}` };
  if (!/^\d{1,2}$/.test(prefixText) || Number(prefixText) > 32) return { ok: false, reason: `the prefix "/${prefixText}" is not a number from 0 to 32` };
  const prefix = Number(prefixText);
  if (((address.value & prefixMask(prefix)) >>> 0) !== address.value) {
    return { ok: false, reason: 'the address has bits set beyond the prefix' };
  }
  return { ok: true, value: { network: address.value, prefix } };
}

