// What `pfctl -a … -sr` prints for a nanopolicy anchor, as macOS pf rewrites it: macros and `{ }`
// lists expanded one rule per element, `inet` added, ports as `= name` from /etc/services, state
// options spelled out. Both the enforce and the verify tests compare against this.

// `doors`: the egress doors' own ports (transparent doors, then the DNS responder), whose pass
// rules pfctl prints with the rdr's tag after the state options (pfctl_parser.c print_rule).
export function printedAnchor(o: { subnet: string; gateway: string; ports: number[]; vmIf: string; doors?: { transparent: number[]; dns: number } }): string {
  const { subnet, gateway, vmIf } = o;
  const dhcp = [subnet, '0.0.0.0'].flatMap((from) =>
    [gateway, '255.255.255.255'].map((to) => `pass in quick inet proto udp from ${from} port = bootpc to ${to} port = bootps keep state`),
  );
  return [
    `pass out quick inet from ${gateway} to ${subnet} flags S/SA keep state`,
    ...o.ports.map((p) => `pass in quick inet proto tcp from ${subnet} to ${gateway} port = ${p} flags S/SA keep state`),
    ...(o.doors
      ? [
          ...[...o.doors.transparent, o.doors.dns].map((p) => `pass in quick inet proto tcp from ${subnet} to ${gateway} port = ${p} flags S/SA keep state tagged NP_EGRESS_DOOR`),
          `pass in quick inet proto udp from ${subnet} to ${gateway} port = ${o.doors.dns} keep state tagged NP_EGRESS_DOOR`,
        ]
      : []),
    ...dhcp,
    `block return in log quick on ${vmIf} inet6 all`,
    `block return in log quick inet from ${subnet} to any`,
    `block return in log quick on ${vmIf} all`,
    '',
  ].join('\n');
}
