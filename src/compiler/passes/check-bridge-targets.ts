// Every bridge forwards to a host the owner's LAN or the internet can route: never the host
// itself, the VM network, or an address no router forwards.

import { errorAt, warningAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { bridges, type CheckContext } from '../check-context.ts';
import { effectiveNetwork } from '../effective-network.ts';
import { classifyTarget } from '../net/classify-target.ts';
import { formatCidr, formatIpv4, inCidr, UNROUTABLE_IPV4 } from '../../net/ipv4.ts';
import { unroutableIpv6 } from '../../net/ipv6.ts';

export function checkBridgeTargets({ ast }: CheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const network = effectiveNetwork(ast);
  for (const bridge of bridges(ast)) {
    const span = bridge.target.host.span;
    const target = classifyTarget(bridge.target);
    if (!target.ok) {
      out.push(errorAt(ast.file, span, target));
      continue;
    }
    const unroutable = (message: string, hint: string) =>
      out.push(errorAt(ast.file, span, { code: 'NP233', message: `The bridge "${bridge.name.value}" targets ${message}.`, hint }));
    const realHost = 'Name the machine that runs the service, by its LAN address or DNS name.';
    if (target.kind === 'ipv4' && target.ipv4 !== undefined) {
      const range = UNROUTABLE_IPV4.find((r) => inCidr(target.ipv4!, r.cidr));
      if (range) unroutable(`"${target.host}", which is ${range.what}`, realHost);
      else if (target.ipv4 === 0xffffffff) unroutable(`the broadcast address "${target.host}"`, realHost);
      else if (network && target.ipv4 === network.gateway) {
        unroutable(`the gateway "${formatIpv4(network.gateway)}" itself, which would expose the host's own services to the VM`, realHost);
      } else if (network && inCidr(target.ipv4, network.subnet)) {
        unroutable(`"${target.host}" inside the VM network "${formatCidr(network.subnet)}"`, realHost);
      }
    } else if (target.kind === 'ipv6') {
      const why = unroutableIpv6(target.host);
      if (why) unroutable(`"${target.host}", which is ${why}`, realHost);
    } else if (target.host === 'localhost' || target.host.endsWith('.localhost')) {
      unroutable(`"${target.host}", the host itself, which the bridges must not expose`, realHost);
    }
    const tls = bridge.options.some((o) => o.key.value === 'tls');
    if (tls && target.kind !== 'dns') {
      out.push(
        warningAt(ast.file, span, {
          code: 'NP250',
          message: `The TLS bridge "${bridge.name.value}" targets an address, so no hosts line can make its certificate name match inside the VM.`,
          hint: 'Clients in the VM must set the server name themselves (e.g. tls-server-name in a kubeconfig); or target the service by DNS name.',
        }),
      );
    }
  }
  return out;
}
