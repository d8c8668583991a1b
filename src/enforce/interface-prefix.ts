// The VM bridge's netmask must be the policy's subnet: the rules match the VM by that subnet, so a
// wider netmask on the bridge (a /16 where the policy says /24) puts addresses on the VM's link that
// no rule names — a VM that takes one of them is matched only by what keys on the interface.

import { StepError } from './step.ts';

// From `ifconfig` output (macOS/BSD): the prefix length of the inet line holding `address`
// ("inet 192.168.64.1 netmask 0xffffff00" → 24), or undefined when not found or not contiguous.
export function prefixFromIfconfig(output: string, address: string): number | undefined {
  for (const line of output.split('\n')) {
    const m = /^\s+inet\s+(\d+\.\d+\.\d+\.\d+)\s+netmask\s+(0x[0-9a-fA-F]{8}|\d+\.\d+\.\d+\.\d+)\b/.exec(line);
    if (!m || m[1] !== address) continue;
    const mask = m[2]!.startsWith('0x') ? Number.parseInt(m[2]!.slice(2), 16) : m[2]!.split('.').reduce((n, o) => n * 256 + Number(o), 0);
    return prefixOfMask(mask);
  }
  return undefined;
}

// From `ip -j addr` output (Linux): the prefix length of `address`.
export function prefixFromIpJson(output: string, address: string): number | undefined {
  try {
    const parsed = JSON.parse(output) as Array<{ addr_info?: Array<{ family?: string; local?: string; prefixlen?: number }> }>;
    for (const entry of Array.isArray(parsed) ? parsed : []) {
      const hit = entry.addr_info?.find((a) => a.family === 'inet' && a.local === address);
      if (hit && Number.isInteger(hit.prefixlen)) return hit.prefixlen;
    }
  } catch {
    // not JSON: undefined below
  }
  return undefined;
}

function prefixOfMask(mask: number): number | undefined {
  for (let p = 0; p <= 32; p++) if ((p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0) === mask >>> 0) return p;
  return undefined;
}

// Throws unless the interface's prefix is the subnet's.
export function netmaskMatches(iface: string, prefix: number | undefined, subnet: string): void {
  const want = Number(subnet.split('/')[1]);
  if (prefix === want) return;
  throw new StepError(
    prefix === undefined
      ? `Could not read the netmask of "${iface}", so enforce cannot check it equals the policy's subnet ${subnet}.`
      : `The VM interface "${iface}" has a /${prefix} netmask, but the policy's subnet is ${subnet}: the VM could use addresses no rule matches.`,
    prefix === undefined
      ? 'Check the interface with ifconfig / ip addr.'
      : `Make the policy's network line match the interface (network softnet subnet <its network>/${prefix} gateway <its address>), or set the VM network's netmask (Shared_Net_Mask in com.apple.vmnet.plist) to /${want}.`,
  );
}
