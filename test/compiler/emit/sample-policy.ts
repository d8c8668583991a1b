// Hand-built Policy objects for the emitter tests, so they do not depend on the parser or checks.

import type { Bridge, Mount, Policy, TargetKind } from '../../../src/compiler/policy.ts';
import { DEFAULT_GATEWAY, DEFAULT_MAX_CONNECTIONS, DEFAULT_SUBNET } from '../../../src/compiler/policy.ts';

const SPAN = { line: 1, column: 1, endColumn: 2 };

// A bridge with the defaults the checks would fill in.
export function bridge(name: string, kind: TargetKind, host: string, port: number, listen: number, extra: Partial<Bridge> = {}): Bridge {
  return { name, target: { kind, host, port }, listen, tls: false, maxConnections: DEFAULT_MAX_CONNECTIONS, span: SPAN, ...extra };
}

// A mount of an absolute path.
export function mount(name: string, path: string, mode: 'ro' | 'rw', extra: Partial<Mount> = {}): Mount {
  return { name, path, written: path, mode, allowSensitive: false, span: SPAN, ...extra };
}

// A policy with the default network unless `network` says otherwise.
export function samplePolicy(parts: {
  vm: string;
  file?: string;
  subnet?: string;
  gateway?: string;
  bridges?: Bridge[];
  mounts?: Mount[];
}): Policy {
  const subnet = parts.subnet ?? DEFAULT_SUBNET;
  const [subnetAddress = '', prefix = '24'] = subnet.split('/');
  const file = parts.file ?? `policy/${parts.vm}.policy`;
  return {
    source: { file, absolutePath: `/Users/owner/nanoclaw/${file}`, sha256: 'ab'.repeat(32) },
    owner: { user: 'owner', home: '/Users/owner' },
    vm: parts.vm,
    network: { mode: 'softnet', subnetAddress, prefix: Number(prefix), subnet, gateway: parts.gateway ?? DEFAULT_GATEWAY },
    bridges: parts.bridges ?? [],
    mounts: parts.mounts ?? [],
    egress: [],
    secrets: [],
  };
}

// Like policy/nanoclaw.policy, compiled for a user whose home is /Users/owner.
export function bundledPolicy(): Policy {
  return samplePolicy({
    vm: 'nanoclaw-vm',
    file: 'policy/nanoclaw.policy',
    bridges: [
      bridge('vaultwarden', 'dns', 'bitwarden.cstrube.de', 443, 18443, { tls: true }),
      bridge('homeassistant', 'ipv4', '10.0.30.5', 8123, 18123),
      bridge('kubernetes', 'ipv4', '10.0.40.100', 6443, 16443, { tls: true }),
    ],
    mounts: [
      mount('groups', '/Users/owner/nanoclaw/groups', 'rw', { written: '~/nanoclaw/groups' }),
      mount('data', '/Users/owner/nanoclaw/data', 'rw', { written: '~/nanoclaw/data' }),
      mount('memory', '/Users/owner/nanoclaw/memory', 'rw', { written: '~/nanoclaw/memory' }),
      mount('scripts', '/Users/owner/nanoclaw/scripts', 'ro', { written: '~/nanoclaw/scripts' }),
    ],
  });
}

// No bridges, no mounts, a non-default subnet.
export function barePolicy(): Policy {
  return samplePolicy({ vm: 'bare', subnet: '192.168.70.0/24', gateway: '192.168.70.1' });
}

// An IPv6 target, a pin, max-conn, two TLS bridges to one name, a path with spaces, a quote and "$".
export function edgePolicy(): Policy {
  return samplePolicy({
    vm: 'edge.vm-2',
    file: 'policies/edge case.policy',
    bridges: [
      bridge('v6api', 'ipv6', '2001:db8::10', 8443, 19443, { tls: true, maxConnections: 4, pin: 'sha256/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=' }),
      bridge('git', 'dns', 'git.example.org', 443, 19444, { tls: true }),
      bridge('git-ssh', 'dns', 'git.example.org', 22, 19022),
      bridge('git-alt', 'dns', 'git.example.org', 8443, 19445, { tls: true, maxConnections: 1 }),
    ],
    mounts: [mount('notes', "/Users/o'neil/My Files/$HOME stuff", 'ro'), mount('work', '/Users/owner/work', 'rw')],
  });
}

export const CASES: Record<string, () => Policy> = { bundled: bundledPolicy, bare: barePolicy, edge: edgePolicy };
