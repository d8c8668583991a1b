// What `pfctl -a … -sr` prints for a nanopolicy anchor, as macOS pf rewrites it: macros and `{ }`
// lists expanded one rule per element, `inet` added, ports as `= name` from /etc/services, state
// options spelled out. Both the enforce and the verify tests compare against this.

export function printedAnchor(o: { subnet: string; gateway: string; ports: number[]; vmIf: string }): string {
  const { subnet, gateway, vmIf } = o;
  const dhcp = [subnet, '0.0.0.0'].flatMap((from) =>
    [gateway, '255.255.255.255'].map((to) => `pass in quick inet proto udp from ${from} port = bootpc to ${to} port = bootps keep state`),
  );
  return [
    `pass out quick inet from ${gateway} to ${subnet} flags S/SA keep state`,
    ...o.ports.map((p) => `pass in quick inet proto tcp from ${subnet} to ${gateway} port = ${p} flags S/SA keep state`),
    ...dhcp,
    `block return in log quick on ${vmIf} inet6 all`,
    `block return in log quick inet from ${subnet} to any`,
    `block return in log quick on ${vmIf} all`,
    '',
  ].join('\n');
}
