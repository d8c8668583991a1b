// The soak's lab: the echo services the honest clients stream to, the canaries that must stay
// unreachable, the lab resolver, and a policy with a bridge to an address, a bridge to a name (the
// one the chaos rebinds) and the egress proxy with a listed name and a listed wildcard (the one
// whose DNS the chaos stalls). Every address is a lab address (test/lab/README.md).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PLAN, createLab, type Lab } from '../lab/index.ts';

export const ALPHA = { address: PLAN.lan.services[0]!, port: 8080, listen: 18080 };
/** The named bridge: ha.lab.test answers one of two lan services, rebound by the chaos. */
export const BETA = { name: 'ha.lab.test', addresses: [PLAN.lan.services[1]!, '198.51.100.12'] as const, port: 9090, listen: 18090 };
export const PROXY_PORT = 13128;
export const ECHO = { name: 'echo.soak.test', address: '203.0.113.20', stallSuffix: 'stall.soak.test' };
/** What must stay unreachable from the VM: a lan service no bridge names, the Mac's SSH, the wan web. */
export const CANARY = { address: PLAN.lan.services[1]!, port: 7777 };

export interface SoakLab {
  lab: Lab;
  policyFile: string;
  stateDir: string;
  /** The host namespace's hosts, as the chaos last wrote them. */
  hosts: Record<string, string>;
  /** [host, port] pairs the VM must never reach. */
  canaries: Array<[string, number]>;
  /** The gateway ports a sweep may find open: the bridges' and the proxy's. */
  openPorts: number[];
}

export interface StateFile {
  bridges: Array<{ name: string; pid: number; listen: number; target?: string }>;
  proxy?: { pid: number; auditLog: string };
}

// Builds the lab, its services and the policy; nothing enforced yet.
export async function createSoakLab(): Promise<SoakLab> {
  const hosts = { [BETA.name]: BETA.addresses[0], [ECHO.name]: ECHO.address };
  const lab = await createLab({ lanAddresses: [BETA.addresses[1]], wanAddresses: [ECHO.address], hostHosts: hosts });
  await lab.startTcpService('lan', ALPHA.address, ALPHA.port, { name: 'alpha' });
  await lab.startTcpService('lan', BETA.addresses[0], BETA.port, { name: 'beta-a' });
  await lab.startTcpService('lan', BETA.addresses[1], BETA.port, { name: 'beta-b' });
  await lab.startTlsService('wan', ECHO.address, 443, { name: 'echo', names: [ECHO.name] });
  await lab.startTcpService('lan', CANARY.address, CANARY.port, { name: 'canary' });
  await lab.startTcpService('host', lab.gateway, 22, { name: 'host-ssh', banner: 'SSH-2.0-lab\r\n' });
  await lab.startTcpService('wan', PLAN.wan.web, 80, { name: 'wan-web' });
  // The host namespace's resolver: knows no name, so the wildcard's names get NXDOMAIN at once —
  // until the chaos makes it stop answering.
  await lab.startDns('wan', PLAN.wan.dns, {}, { name: 'resolver' });
  const dir = join(lab.dir, 'policy');
  mkdirSync(dir, { recursive: true });
  const policyFile = join(dir, 'soak.policy');
  writeFileSync(
    policyFile,
    [
      'vm lab-vm',
      `allow alpha ${ALPHA.address}:${ALPHA.port} via ${ALPHA.listen}`,
      `allow beta ${BETA.name}:${BETA.port} via ${BETA.listen}`,
      `proxy via ${PROXY_PORT} max-conn 64`,
      `egress echo ${ECHO.name} *.${ECHO.stallSuffix}`,
      '',
    ].join('\n'),
  );
  return {
    lab,
    policyFile,
    stateDir: join(lab.dir, 'state'),
    hosts: { ...hosts },
    canaries: [[CANARY.address, CANARY.port], [ALPHA.address, ALPHA.port], [lab.gateway, 22], [PLAN.wan.web, 80], [ECHO.address, 443]],
    openPorts: [ALPHA.listen, BETA.listen, PROXY_PORT],
  };
}

// The enforce state as it is on disk now; undefined while it is missing or being rewritten.
export function readState(s: SoakLab): StateFile | undefined {
  try {
    return JSON.parse(readFileSync(join(s.stateDir, 'state.json'), 'utf8')) as StateFile;
  } catch {
    return undefined;
  }
}

// Points the bridge name at `address` in the host namespace's hosts file (in place, as the lab does).
export function rebind(s: SoakLab, address: string): void {
  s.hosts[BETA.name] = address;
  s.lab.setHosts('host', s.hosts);
}

/** The VM-side description of each path the honest clients and probes use (vm/stream.mjs). */
export function paths(s: SoakLab): Array<{ id: string; kind: 'tcp' | 'proxy'; port: number; banners: string[]; name?: string; ca?: string }> {
  return [
    { id: 'alpha', kind: 'tcp', port: ALPHA.listen, banners: ['alpha'] },
    { id: 'beta', kind: 'tcp', port: BETA.listen, banners: ['beta-a', 'beta-b'] },
    { id: 'proxy', kind: 'proxy', port: PROXY_PORT, banners: ['echo'], name: ECHO.name, ca: s.lab.ca.path },
  ];
}
