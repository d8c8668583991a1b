// bridges.sh: one socat per bridge, listening on the gateway address and accepting only the VM.

import type { Bridge, Policy } from '../policy.ts';
import { assertVmName } from './expressible.ts';
import { hashHeader, printable } from './header.ts';
import { shellQuote } from './shell-quote.ts';

/** The environment variable that narrows `range=` from the subnet to the VM's own address. */
export const RANGE_ENV = 'NANOPOLICY_VM_RANGE';

// socat's listening address without `range=`. TCP4 because the gateway is an IPv4 address (socat
// 1.8 may listen on IPv6 for a plain TCP-LISTEN). Never `bind=<VM address>`: that address belongs
// to the VM, not to the host; the host's address on the VM bridge is the gateway, which exists
// only while the VM runs. `max-children`: a hostile VM must not fork unbounded host processes.
export function socatListenPrefix(policy: Policy, bridge: Bridge): string {
  return [
    `TCP4-LISTEN:${bridge.listen}`,
    `bind=${policy.network.gateway}`,
    'reuseaddr',
    'fork',
    `max-children=${bridge.maxConnections}`,
    'range=',
  ].join(',');
}

// socat's connecting address for the bridge's real target. A name is resolved on the host for
// each connection; an IPv6 address goes in brackets.
export function socatTarget(bridge: Bridge): string {
  const { kind, host, port } = bridge.target;
  if (kind === 'ipv6') return `TCP6:[${host}]:${port}`;
  if (kind === 'ipv4') return `TCP4:${host}:${port}`;
  return `TCP:${host}:${port}`;
}

// socat's argv (after the program name) for one bridge; `range` is a CIDR, e.g. "192.168.64.5/32".
export function socatArgv(policy: Policy, bridge: Bridge, range: string): string[] {
  if (!/^[0-9.]+\/[0-9]+$/.test(range)) throw new Error(`"${range}" is not an IPv4 CIDR for socat range=.`);
  return [socatListenPrefix(policy, bridge) + range, socatTarget(bridge)];
}

// The script's text. It runs every socat in the background and stops them all when any one of
// them stops or the script is told to stop: all bridges or none, as enforce does it.
export function emitBridgesScript(policy: Policy): string {
  assertVmName(policy);
  const header = hashHeader(policy, [
    `The socat bridges of the VM "${policy.vm}". Start it after the VM is up: the gateway address`,
    `${policy.network.gateway} exists only while a vmnet VM runs.`,
    `${RANGE_ENV} narrows who may connect from the whole subnet to the VM's address`,
    `(enforce sets it: ${RANGE_ENV}=<VM address>/32).`,
    "Each socat binds the gateway address, never the VM's: the VM's address belongs to the VM,",
    'not to the host, so a listener cannot bind it.',
  ]);
  const lines: string[] = [
    '#!/bin/sh',
    header.trimEnd(),
    'set -eu',
    '',
    `range=\${${RANGE_ENV}:-${policy.network.subnet}}`,
    '# The range goes inside a socat address: anything but a CIDR could smuggle in options.',
    'case $range in',
    `  '' | *[!0-9./]* | */*/*) echo "bridges.sh: ${RANGE_ENV} must be a CIDR, not '$range'" >&2; exit 2 ;;`,
    '  */*) ;;',
    `  *) echo "bridges.sh: ${RANGE_ENV} must be a CIDR, not '$range'" >&2; exit 2 ;;`,
    'esac',
    '',
  ];
  if (policy.bridges.length === 0) {
    lines.push('# The policy has no bridges.', 'exit 0', '');
    return lines.join('\n');
  }
  lines.push(
    "children=''",
    '',
    '# Runs one socat in a background subshell. If that socat stops, the subshell stops the',
    '# script ($$ is the script even in a subshell); told to stop, it stops its socat first.',
    'bridge() {',
    '  (',
    '    pid=',
    '    trap \'[ -n "$pid" ] && kill "$pid" 2>/dev/null; exit 143\' TERM',
    '    socat "$@" &',
    '    pid=$!',
    '    wait "$pid" || :',
    '    kill -TERM $$ 2>/dev/null || :',
    '  ) &',
    '  children="$children $!"',
    '}',
    '',
    '# Stops every bridge, on any exit of the script.',
    'stop() {',
    '  trap - EXIT TERM INT HUP',
    '  for child in $children; do kill -TERM "$child" 2>/dev/null || :; done',
    '  wait || :',
    '}',
    "trap 'stop' EXIT",
    "trap 'exit 143' TERM",
    "trap 'exit 130' INT",
    "trap 'exit 129' HUP",
    '',
  );
  for (const bridge of policy.bridges) {
    const [, target] = socatArgv(policy, bridge, '0.0.0.0/32');
    lines.push(
      `# ${printable(bridge.name)}: ${policy.network.gateway}:${bridge.listen} -> ${printable(socatTarget(bridge).replace(/^TCP[46]?:/, ''))}${bridge.tls ? ' (TLS, end to end)' : ''}`,
      `bridge ${shellQuote(socatListenPrefix(policy, bridge))}"$range" ${shellQuote(target ?? '')}`,
    );
  }
  lines.push('', 'wait', '');
  return lines.join('\n');
}
