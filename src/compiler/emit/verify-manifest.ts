// verify.json: what `verify` must find open and what it must find blocked (src/formats/verify-manifest.ts).

import type { Policy } from '../policy.ts';
import { anchorName, SHARES_ROOT } from '../policy.ts';
import type { VerifyManifest } from '../../formats/verify-manifest.ts';
import { gatewayPorts } from './anchor-pf.ts';
import { GENERATED_BY } from './header.ts';
import { hostsEntries } from './hosts.ts';
import { DNS_PORT, egressDoors } from '../egress-doors.ts';
import { buildInjectProbes } from './inject-probes.ts';

// The manifest as data, bridges and mounts in policy order.
export function buildVerifyManifest(policy: Policy): VerifyManifest {
  const doors = egressDoors(policy);
  // The ports the firewall redirects to the doors answer; the doors' own high ports must not.
  const doorPorts = doors ? [...doors.transparent.map((d) => d.port), DNS_PORT] : [];
  return {
    format: 1,
    generatedBy: GENERATED_BY,
    policy: { file: policy.source.file, sha256: policy.source.sha256 },
    vm: policy.vm,
    gateway: policy.network.gateway,
    subnet: policy.network.subnet,
    anchor: anchorName(policy),
    bridges: policy.bridges.map((b) => ({
      name: b.name,
      listen: b.listen,
      tls: b.tls,
      serverName: b.target.host,
      ...(b.pin === undefined ? {} : { pin: b.pin }),
      target: { host: b.target.host, port: b.target.port, kind: b.target.kind },
    })),
    gatewaySweep: { from: 1, to: 65535, except: [...new Set([...gatewayPorts(policy), ...doorPorts])].sort((a, b) => a - b) },
    direct: policy.bridges.map((b) => ({ bridge: b.name, host: b.target.host, port: b.target.port })),
    hosts: hostsEntries(policy),
    ...(policy.proxy
      ? {
          egress: {
            proxy: { host: policy.network.gateway, port: policy.proxy.listen },
            names: policy.egress.flatMap((r) => r.hosts.map((h) => ({ rule: r.name, host: h.host, port: h.port, wildcard: h.wildcard }))),
            ...(doors ? { doors: { ports: doors.transparent.map((d) => d.port), dns: DNS_PORT } } : {}),
          },
        }
      : {}),
    ...(() => {
      const inject = policy.proxy ? buildInjectProbes(policy) : undefined;
      return inject ? { inject } : {};
    })(),
    sharesRoot: SHARES_ROOT,
    mounts: policy.mounts.map((m) => ({ name: m.name, mode: m.mode })),
  };
}

// The file's text: 2-space JSON with a final newline.
export function emitVerifyJson(policy: Policy): string {
  return `${JSON.stringify(buildVerifyManifest(policy), null, 2)}\n`;
}
