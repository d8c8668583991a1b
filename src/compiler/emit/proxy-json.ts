// proxy.json: the egress proxy's configuration (src/formats/proxy-config.ts, read by
// `node dist/proxy.js --config FILE`). compile writes it with the whole VM subnet as the allowed
// clients; enforce writes its own copy with the VM's /32, the host's own addresses refused, and
// the audit log in the state directory.

import { dirname, join } from 'node:path';
import { buildInjectConfig } from './inject-config.ts';
import type { ProxyConfig } from '../../formats/proxy-config.ts';
import { PROXY_DEFAULTS } from '../../formats/proxy-config.ts';
import type { Policy } from '../policy.ts';
import { DNS_TTL, egressDoors } from '../egress-doors.ts';

export interface ProxyJsonOptions {
  /** Who may connect: the VM's /32 once known; default the VM subnet. */
  allowClients?: readonly string[];
  /** Refused besides the proxy's built-in set: default the VM subnet alone. */
  denyNetworks?: readonly string[];
  /** Absolute; default the owner's default state directory (what a non-root enforce uses). */
  auditLog?: string;
}

export const PROXY_AUDIT_LOG = 'proxy-audit.jsonl';

// The configuration as data, or undefined when the policy lists no egress (then no proxy runs).
export function buildProxyConfig(policy: Policy, options: ProxyJsonOptions = {}): ProxyConfig | undefined {
  const doors = egressDoors(policy);
  if (!policy.proxy || !doors) return undefined;
  const { subnet, gateway } = policy.network;
  const auditLog = options.auditLog ?? join(policy.owner.home, '.nanopolicy', 'run', policy.vm, PROXY_AUDIT_LOG);
  // The CA lives beside the audit log, in the state directory (issue 23); no value is ever here.
  const inject = buildInjectConfig(policy, dirname(auditLog));
  return {
    format: 1,
    vm: policy.vm,
    // The gateway address only: on 0.0.0.0 the proxy would face the LAN too.
    listen: { host: gateway, port: policy.proxy.listen },
    allowClients: [...(options.allowClients ?? [subnet])],
    rules: policy.egress.flatMap((rule) => rule.hosts.map((h) => ({ name: rule.name, host: h.host, port: h.port }))),
    maxConnections: policy.proxy.maxConnections,
    // The VM subnet is never a destination: an allowed name that resolves there would let the
    // VM reach itself or a neighbour through the host.
    denyNetworks: [...(options.denyNetworks ?? [subnet])],
    auditLog,
    auditRotateBytes: PROXY_DEFAULTS.auditRotateBytes,
    timeouts: { ...PROXY_DEFAULTS.timeouts },
    maxHeaderBytes: PROXY_DEFAULTS.maxHeaderBytes,
    maxHelloBytes: PROXY_DEFAULTS.maxHelloBytes,
    // The doors the firewall redirects gateway:443 (each listed port) and gateway:53 to.
    transparent: doors.transparent.map((d) => ({ listen: { host: gateway, port: d.listen }, port: d.port })),
    // The responder hands out the gateway and nothing else: every listed name leads to the doors.
    dns: { listen: { host: gateway, port: doors.dns }, answer: gateway, ttl: DNS_TTL },
    ...(inject && { inject }),
  };
}

// The file's text: 2-space JSON with a final newline.
export function emitProxyJson(policy: Policy, options: ProxyJsonOptions = {}): string {
  const config = buildProxyConfig(policy, options);
  if (!config) throw new Error(`The policy for "${policy.vm}" lists no egress: there is no proxy to configure.`);
  return `${JSON.stringify(config, null, 2)}\n`;
}
