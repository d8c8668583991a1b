// Names init gives bridges and shares: policy names ([a-z][a-z0-9-]*, unique), taken from what
// they point at so the owner recognises them ("vaultwarden", "homeassistant", "projects").

import type { FoundBridge } from './find-socat-bridges.ts';

// Well-known services by target port, for targets written as bare addresses.
const BY_PORT: Record<number, string> = {
  8123: 'homeassistant',
  6443: 'kubernetes',
  8222: 'vaultwarden',
  5432: 'postgres',
  3306: 'mysql',
  6379: 'redis',
  1883: 'mqtt',
  8883: 'mqtt',
  9000: 'minio',
  11434: 'ollama',
};

// Makes any text a policy name, or '' when nothing usable is left.
export function policyName(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^[^a-z]+/, '').replace(/-+/g, '-').replace(/-+$/, '').slice(0, 40).replace(/-+$/, '');
}

export function isVaultTarget(host: string): boolean {
  return /bitwarden|vaultwarden|(^|[.-])vault([.-]|$)/i.test(host);
}

// A bridge's name: the service it reaches, else its host's first label, else "bridge".
export function bridgeName(b: Pick<FoundBridge, 'host' | 'port' | 'ipv6'>): string {
  if (isVaultTarget(b.host)) return 'vaultwarden';
  const isAddress = b.ipv6 || /^[0-9.]+$/.test(b.host);
  if (isAddress) return BY_PORT[b.port] ?? policyName(`host-${b.host.replace(/[.:]/g, '-')}-${b.port}`);
  const label = policyName(b.host.split('.')[0] ?? '');
  return label || BY_PORT[b.port] || 'bridge';
}

// Hands out names, adding -2, -3 … when one is taken.
export function nameAllocator(): (wanted: string) => string {
  const used = new Set<string>();
  return (wanted) => {
    const base = wanted || 'share';
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}-${i}`;
    used.add(name);
    return name;
  };
}
