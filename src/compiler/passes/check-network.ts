// The network line names a well-formed subnet and a gateway that is a host address inside it.

import { errorAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { findOption, statementsOf, type CheckContext } from '../check-context.ts';
import { parseCidr4 } from '../effective-network.ts';
import { broadcastOf, formatCidr, formatIpv4, inCidr, parseIpv4, prefixMask } from '../../net/ipv4.ts';
import { DEFAULT_SUBNET } from '../policy.ts';
import { describeNonPrivate, isPrivateSubnet } from '../../net/private-ranges.ts';

export function checkNetwork({ ast }: CheckContext): Diagnostic[] {
  const line = statementsOf(ast, 'network')[0];
  if (!line) return [];
  const out: Diagnostic[] = [];
  const subnetNode = findOption(line, 'subnet')?.value;
  const gatewayNode = findOption(line, 'gateway')?.value;

  const subnet = parseCidr4(subnetNode?.value ?? DEFAULT_SUBNET);
  if (!subnet.ok && subnetNode) {
    const [address = '', prefix = ''] = subnetNode.value.split('/');
    const parsed = parseIpv4(address);
    const fixed =
      parsed.ok && /^\d+$/.test(prefix) && Number(prefix) <= 32
        ? formatCidr({ network: (parsed.value & prefixMask(Number(prefix))) >>> 0, prefix: Number(prefix) })
        : DEFAULT_SUBNET;
    out.push(
      errorAt(ast.file, subnetNode.span, {
        code: 'NP210',
        message: `The subnet "${subnetNode.value}" is not valid: ${subnet.reason}.`,
        hint: `Write the network address and prefix, as in "${fixed}".`,
      }),
    );
  } else if (subnet.ok && subnetNode && (subnet.value.prefix < 8 || subnet.value.prefix > 30)) {
    out.push(
      errorAt(ast.file, subnetNode.span, {
        code: 'NP213',
        message: `The subnet "${subnetNode.value}" has a /${subnet.value.prefix} prefix; a VM network needs /8 to /30.`,
        hint: `Softnet's default is "${DEFAULT_SUBNET}" (vmnet's Shared_Net_Address).`,
      }),
    );
  } else if (subnet.ok && subnetNode && !isPrivateSubnet(subnet.value)) {
    out.push(
      errorAt(ast.file, subnetNode.span, {
        code: 'NP214',
        message: `The subnet "${subnetNode.value}" is not private address space: it is ${describeNonPrivate(subnet.value)}.`,
        hint: `A VM network lies inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (RFC 1918), as softnet's default "${DEFAULT_SUBNET}".`,
      }),
    );
  }

  if (!gatewayNode) return out;
  const gateway = parseIpv4(gatewayNode.value);
  if (!gateway.ok) {
    out.push(
      errorAt(ast.file, gatewayNode.span, {
        code: 'NP211',
        message: `The gateway "${gatewayNode.value}" is not a valid IPv4 address: ${gateway.reason}.`,
        hint: 'Write the host\'s address on the VM network, as in "gateway 192.168.64.1".',
      }),
    );
    return out;
  }
  if (!subnet.ok) return out;
  const cidr = subnet.value;
  const subnetText = formatCidr(cidr);
  const firstHost = formatIpv4(cidr.network + 1);
  if (!inCidr(gateway.value, cidr)) {
    out.push(
      errorAt(ast.file, gatewayNode.span, {
        code: 'NP212',
        message: `The gateway "${gatewayNode.value}" lies outside the subnet "${subnetText}".`,
        hint: `The gateway is the host's address inside the VM subnet, usually its first address: "${firstHost}".`,
      }),
    );
  } else if (cidr.prefix < 31 && (gateway.value === cidr.network || gateway.value === broadcastOf(cidr))) {
    const which = gateway.value === cidr.network ? 'network' : 'broadcast';
    out.push(
      errorAt(ast.file, gatewayNode.span, {
        code: 'NP212',
        message: `The gateway "${gatewayNode.value}" is the ${which} address of "${subnetText}", not a host address.`,
        hint: `Use a host address inside the subnet, usually "${firstHost}".`,
      }),
    );
  }
  return out;
}
