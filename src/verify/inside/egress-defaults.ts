// Built-in egress targets for a real VM: DATA ONLY. Tests and the lab always replace them with
// `--egress` (domain.md §7: never send a packet to a real address from a test).

import type { Endpoint } from './result.ts';

type Labelled = Endpoint & { label: string };

const RESOLVERS: Array<[string, string]> = [
  ['1.1.1.1', 'Cloudflare DNS'], ['8.8.8.8', 'Google DNS'], ['9.9.9.9', 'Quad9 DNS'], ['208.67.222.222', 'OpenDNS'],
  ['2606:4700:4700::1111', 'Cloudflare DNS v6'], ['2001:4860:4860::8888', 'Google DNS v6'],
];

/** TCP endpoints that must all be blocked from the VM. */
export const DEFAULT_EGRESS: readonly Labelled[] = [
  // DNS, DNS-over-HTTPS and DNS-over-TLS: the side channels a caged agent tries first.
  ...RESOLVERS.flatMap(([host, label]) => [53, 443, 853].map((port) => ({ host, port, label }))),
  // Web, Apple (17.0.0.0/8) and GitHub (140.82.112.0/20) ranges, v4 and v6.
  { host: '17.253.144.10', port: 443, label: 'Apple' },
  { host: '17.253.144.10', port: 80, label: 'Apple' },
  { host: '140.82.112.3', port: 443, label: 'GitHub' },
  { host: '140.82.112.3', port: 22, label: 'GitHub SSH' },
  { host: '151.101.1.69', port: 443, label: 'Fastly CDN' },
  { host: '2620:1ec:c11::200', port: 443, label: 'Microsoft v6' },
  { host: '2a04:4e42::81', port: 80, label: 'Fastly v6' },
  // Private ranges: the owner's LAN, carrier NAT, link-local, cloud metadata.
  { host: '10.0.0.1', port: 80, label: 'RFC 1918' },
  { host: '172.16.0.1', port: 443, label: 'RFC 1918' },
  { host: '192.168.0.1', port: 80, label: 'RFC 1918 (home router)' },
  { host: '192.168.1.1', port: 443, label: 'RFC 1918 (home router)' },
  { host: '100.64.0.1', port: 80, label: 'CGNAT' },
  { host: '169.254.1.1', port: 80, label: 'link-local' },
  { host: '169.254.169.254', port: 80, label: 'cloud metadata' },
  { host: 'fe80::1', port: 80, label: 'IPv6 link-local' },
  { host: 'fd00::1', port: 80, label: 'IPv6 ULA' },
];

/** Resolvers that must not answer UDP DNS (the gateway is added at run time). */
export const DEFAULT_DNS_SERVERS: readonly string[] = RESOLVERS.map(([host]) => host);

/** A public name the system resolver must fail to resolve. */
export const DEFAULT_DNS_NAME = 'example.com';
